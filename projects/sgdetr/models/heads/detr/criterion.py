"""Moment-retrieval losses of decoder queries whose targets are known."""
from typing import Dict, List, Optional

import torch
from mmdet.utils import reduce_mean
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from sgdetr.registry import MODELS
from sgdetr.structures import lift_spans, span_cxw_to_xx, span_iou, span_xx_to_cxw


class SpanQueryCriterion(nn.Module):
    """Class, L1, GIoU and IoU-prediction losses of one set of queries.

    A query with a GT target (``gt_indices >= 0``) is a positive: class
    target foreground, L1 on (centre, width) and GIoU against its GT, and its
    IoU head learns the IoU (detached) of its span with that GT. A query with
    ``gt_indices == -1`` only learns the background class; padding queries
    (``valid`` False) learn nothing. Every loss is averaged over positives
    (over all processes), i.e. over the GT spans for Hungarian-matched and
    denoising queries.

    Args:
        loss_cls: sigmoid classification loss config (MMDetection interface,
            called with (N, 1) logits and (N, 1) one-hot "moment" targets,
            e.g. ``mmdet.FocalLoss`` or ``mmdet.CrossEntropyLoss`` with
            ``use_sigmoid=True``).
        loss_span_l1: regression loss config on (centre, width).
        loss_giou: box IoU loss config, applied to unit-height boxes.
        loss_iou: config of the loss of the IoU head, a binary cross-entropy
            against soft targets; None without an IoU head.
    """

    def __init__(self, loss_cls: dict, loss_span_l1: dict, loss_giou: dict,
                 loss_iou: Optional[dict] = None) -> None:
        super().__init__()
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_span_l1 = MODELS.build(loss_span_l1)
        self.loss_giou = MODELS.build(loss_giou)
        self.loss_iou = MODELS.build(loss_iou) if loss_iou else None

    def forward(self, cls_logits: Tensor, spans: Tensor,
                iou_logits: Optional[Tensor], gt_indices: Tensor,
                valid: Tensor, gt_spans: List[Tensor]) -> Dict[str, Tensor]:
        """
        Args:
            cls_logits: (B, G) foreground logits.
            spans: (B, G, 2) predicted (centre, width).
            iou_logits: (B, G) IoU-head logits, or None (no IoU loss).
            gt_indices: (B, G) long, index into ``gt_spans[b]``, -1 = none.
            valid: (B, G) bool, False = padding query.
            gt_spans: B tensors (K_b, 2) of GT start/end.
        Returns:
            ``loss_cls``, ``loss_span_l1``, ``loss_giou`` (+ ``loss_iou``).
        """
        positive = valid & (gt_indices >= 0)  # (B, G)
        num_pos = reduce_mean(positive.sum().to(spans.dtype)).clamp(min=1.0)

        # One-hot (N, 1) targets: a sigmoid focal or cross-entropy loss alike,
        # on any device (no compiled op needed).
        moment = positive[valid].to(cls_logits.dtype)[:, None]
        losses = dict(loss_cls=self.loss_cls(
            cls_logits[valid][:, None], moment, avg_factor=num_pos))

        gt = pad_sequence(list(gt_spans), batch_first=True) if gt_spans else None
        if gt is None or gt.size(1) == 0:  # no GT in the batch: nothing to regress
            gt = spans.new_zeros(spans.size(0), 1, 2)
        target_index = gt_indices.clamp(min=0)[..., None].expand(-1, -1, 2)
        target_xx = gt.to(spans).gather(1, target_index)[positive]  # (P, 2)
        pred_cxw = spans[positive]
        pred_xx = span_cxw_to_xx(pred_cxw)
        losses['loss_span_l1'] = self.loss_span_l1(
            pred_cxw, span_xx_to_cxw(target_xx), avg_factor=num_pos)
        losses['loss_giou'] = self.loss_giou(
            lift_spans(pred_xx), lift_spans(target_xx), avg_factor=num_pos)
        if self.loss_iou is not None and iou_logits is not None:
            losses['loss_iou'] = self.loss_iou(
                iou_logits[valid], self.iou_targets(spans, gt_indices, gt_spans, gt)[valid],
                avg_factor=reduce_mean(valid.sum().to(spans.dtype)).clamp(min=1.0))
        return losses

    @staticmethod
    def iou_targets(spans: Tensor, gt_indices: Tensor, gt_spans: List[Tensor],
                    gt: Tensor) -> Tensor:
        """What the IoU head learns for every query (detached): the IoU with the
        assigned GT, and for queries without one the best IoU with any GT of the
        sample (0 without GT). Trained on matched queries only, the head would
        never see a poor span and could not rank them (paper §3.6).

        Args:
            spans: (B, G, 2) (centre, width); gt_indices: (B, G);
            gt_spans: B tensors (K_b, 2); gt: (B, K, 2) padded ``gt_spans``.
        Returns:
            (B, G) IoU targets in [0, 1].
        """
        ious = span_iou(span_cxw_to_xx(spans.detach()), gt.to(spans))  # (B, G, K)
        counts = torch.tensor([len(g) for g in gt_spans], device=spans.device)
        real_gt = torch.arange(ious.size(-1), device=spans.device) < counts[:, None]
        ious = ious.masked_fill(~real_gt[:, None, :], 0)
        assigned = ious.gather(-1, gt_indices.clamp(min=0)[..., None]).squeeze(-1)
        return torch.where(gt_indices >= 0, assigned, ious.amax(-1))
