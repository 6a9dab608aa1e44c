"""Losses of DETR predictions: one-to-one (matched) sets and query groups with known targets."""
from typing import Dict, List, Optional

import torch
from torch import Tensor
from torch.nn import functional as F

from sgdetr.structures import span_cxw_to_xx, span_giou, span_iou
from ..query_groups import QueryGroup


def matched_set_losses(cls_logits: Tensor, spans: Tensor, iou_logits: Optional[Tensor],
                       valid: Tensor, gt_indices: Tensor, gt_spans: List[Tensor],
                       background_weight: float = 0.1) -> Dict[str, Tensor]:
    """Losses of one set of matched predictions (unweighted).

    ``loss_label``: BCE over every valid query (target 1 for matched ones),
    unmatched ones weighted by ``background_weight``, mean over the batch's
    valid queries; ``loss_span``: smooth L1 on normalised (centre, width) of
    matched queries; ``loss_giou``: 1 - GIoU; ``loss_iou``: BCE of the IoU
    logit against the (detached) IoU of the matched prediction with its GT.

    Args:
        cls_logits: (B, Q).  spans: (B, Q, 2) (centre, width).
        iou_logits: (B, Q) or None.  valid: (B, Q) bool.
        gt_indices: (B, Q) long, index into ``gt_spans[b]`` or -1.
        gt_spans: B tensors (K_b, 2) normalised (centre, width).
    """
    matched = gt_indices >= 0
    labels = matched.to(cls_logits.dtype)
    weights = torch.where(matched, 1.0, background_weight) * valid
    label_loss = F.binary_cross_entropy_with_logits(cls_logits, labels, weights,
                                                    reduction='sum')
    losses = dict(loss_label=label_loss / valid.sum().clamp(min=1))
    batch, query = matched.nonzero(as_tuple=True)
    if len(batch):
        offsets = torch.tensor([0] + [len(g) for g in gt_spans], device=spans.device)
        target = torch.cat(gt_spans)[offsets.cumsum(0)[batch] + gt_indices[batch, query]]
        pred = spans[batch, query]
    else:  # keeps the graph (and DDP) connected without a target
        target = pred = spans[:, :0].reshape(0, 2)
    losses.update(span_pair_losses(pred, target, 'smooth_l1_cxw'))
    if iou_logits is not None:
        losses['loss_iou'] = _iou_loss(iou_logits[batch, query], pred, target)
    return losses


def group_losses(group: QueryGroup, cls_logits: Tensor, spans: Tensor) -> Dict[str, Tensor]:
    """Losses of a query group, weighted by ``group.loss_weight``.

    ``loss_label``: BCE over the group's valid queries (no background
    weighting); span losses on the queries with a target.

    Args:
        cls_logits: (B, G).  spans: (B, G, 2) (centre, width).
    """
    valid = group.valid
    label_loss = F.binary_cross_entropy_with_logits(
        cls_logits, group.labels.to(cls_logits.dtype), valid.to(cls_logits.dtype),
        reduction='sum') / valid.sum().clamp(min=1)
    positive = valid & (group.labels > 0)
    losses = dict(loss_label=label_loss,
                  **span_pair_losses(spans[positive], group.target_spans[positive],
                                     'l1_xx'))
    return {k: v * group.loss_weight for k, v in losses.items()}


def span_pair_losses(pred: Tensor, target: Tensor, kind: str) -> Dict[str, Tensor]:
    """Mean span regression and 1 - GIoU of aligned (P, 2) (centre, width) spans.

    ``kind``: ``'smooth_l1_cxw'`` or ``'l1_xx'`` (L1 on start/end).
    """
    pred_xx, target_xx = span_cxw_to_xx(pred), span_cxw_to_xx(target)
    if not len(pred):
        zero = pred.sum() * 0
        return dict(loss_span=zero, loss_giou=zero)
    if kind == 'smooth_l1_cxw':
        span_loss = F.smooth_l1_loss(pred, target)
    elif kind == 'l1_xx':
        span_loss = F.l1_loss(pred_xx, target_xx)
    else:
        raise ValueError(f'unknown span loss {kind!r}')
    giou = span_giou(pred_xx.float(), target_xx.float(), aligned=True)
    return dict(loss_span=span_loss, loss_giou=(1 - giou).mean())


def _iou_loss(iou_logits: Tensor, pred: Tensor, target: Tensor) -> Tensor:
    if not len(pred):
        return iou_logits.sum() * 0
    iou = span_iou(span_cxw_to_xx(pred).float(), span_cxw_to_xx(target).float(),
                   aligned=True).detach()
    return F.binary_cross_entropy_with_logits(iou_logits, iou.to(iou_logits.dtype))
