"""Multi-level ATSS span head: the one-to-many auxiliary detector of SG-DETR."""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import Scale
from mmcv.ops import batched_nms
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from sgdetr.registry import MODELS, TASK_UTILS
from sgdetr.structures import lift_spans, span_cxw_to_xx, span_xx_to_cxw
from ...layers import ConvNormStack, masked_conv, skippable_mask
from ..query_groups import AnchorSamples
from .span_anchors import level_anchors


@dataclass
class ATSSOutput:
    """Predictions at every pyramid position, the levels concatenated (S = sum L_k).

    Attributes:
        cls_logits: (B, S).  deltas: (B, S, 2).  centerness: (B, S) logits.
        valid: (B, S) bool.  anchors: (S, 2) start/end in units.
        level_masks: per level (B, L_k) bool.
    """
    cls_logits: Tensor
    deltas: Tensor
    centerness: Tensor
    valid: Tensor
    anchors: Tensor
    level_masks: List[Tensor]


@MODELS.register_module()
class SpanATSSHead(nn.Module):
    """ATSS on the four pyramid levels, one anchor per position.

    Separate classification and regression towers (3 x conv-LN-ReLU) shared
    by the levels; per-level learned scales of the regression; the legacy
    (+1 width) delta coder; MMDetection's ATSS rule (batched in
    :class:`SpanATSSAssigner`) with ``topk`` candidates per level.

    Units: anchors and targets are in units of ``unit_seconds``. As released,
    the targets are ``floor(seconds) / 2`` for every dataset while anchor
    positions count pyramid positions (a clip at stride 1), which agree for
    2 s clips only; ``unit_seconds=2.0`` keeps the released behaviour.

    Args:
        embed_dims: channels.  num_convs: tower depth.
        strides: of the levels, in clips (x2 upsampled level: 0.5).
        anchor_sizes: anchor width of each level.
        topk: ATSS candidates per level and GT.
        prior_prob: initial foreground probability.
        unit_seconds: seconds of one target unit.
        coder: span delta coder.
        loss_cls, loss_l1, loss_giou, loss_centerness: MMDetection losses; the
            regression terms are weighted by the centerness targets.
    """

    def __init__(self, embed_dims: int = 256, num_convs: int = 3,
                 strides: Sequence[float] = (0.5, 1, 2, 4),
                 anchor_sizes: Sequence[float] = (4, 16, 32, 64), topk: int = 12,
                 prior_prob: float = 0.35, unit_seconds: float = 2.0,
                 coder: dict = dict(type='SpanDeltaCoder'),
                 loss_cls: dict = dict(type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0,
                                       alpha=0.25, loss_weight=2.0),
                 loss_l1: dict = dict(type='mmdet.SmoothL1Loss', beta=1.0, loss_weight=0.1),
                 loss_giou: dict = dict(type='mmdet.GIoULoss', eps=1e-7, loss_weight=2.0),
                 loss_centerness: dict = dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                                              loss_weight=0.5)):
        super().__init__()
        self.strides, self.anchor_sizes = tuple(strides), tuple(anchor_sizes)
        self.unit_seconds = unit_seconds
        self.cls_tower = ConvNormStack(embed_dims, num_convs)
        self.reg_tower = ConvNormStack(embed_dims, num_convs)
        self.cls_conv = nn.Conv1d(embed_dims, 1, 3, padding=1)
        self.reg_conv = nn.Conv1d(embed_dims, 2, 3, padding=1)
        self.centerness_conv = nn.Conv1d(embed_dims, 1, 3, padding=1)
        self.scales = nn.ModuleList(Scale(1.0) for _ in self.strides)
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.constant_(self.cls_conv.bias, math.log(prior_prob / (1 - prior_prob)))
        self.assigner = TASK_UTILS.build(dict(type='SpanATSSAssigner', topk=topk))
        self.coder = TASK_UTILS.build(coder)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_l1 = MODELS.build(loss_l1)
        self.loss_giou = MODELS.build(loss_giou)
        self.loss_centerness = MODELS.build(loss_centerness)

    def forward(self, levels: List[Tensor], level_masks: List[Tensor]) -> ATSSOutput:
        """Predict at every pyramid position.

        Args:
            levels: per level (B, L_k, C).  level_masks: per level (B, L_k) bool.
        """
        cls_logits, deltas, centerness = [], [], []
        for level, mask, scale in zip(levels, level_masks, self.scales):
            x = level.transpose(1, 2)
            m = None if skippable_mask(mask) else mask[:, None].to(level.dtype)
            cls_feat, reg_feat = self.cls_tower(x, m), self.reg_tower(x, m)
            cls_logits.append(masked_conv(self.cls_conv, cls_feat, m)[:, 0])
            deltas.append(scale(masked_conv(self.reg_conv, reg_feat, m)).transpose(1, 2))
            centerness.append(masked_conv(self.centerness_conv, reg_feat, m)[:, 0])
        anchors = level_anchors([lvl.shape[1] for lvl in levels], self.strides,
                                self.anchor_sizes, levels[0].device)
        return ATSSOutput(cls_logits=torch.cat(cls_logits, 1), deltas=torch.cat(deltas, 1),
                          centerness=torch.cat(centerness, 1), valid=torch.cat(level_masks, 1),
                          anchors=torch.cat(anchors), level_masks=level_masks)

    def to_units(self, gt_spans: List[Tensor], timelines: Tensor) -> Tuple[Tensor, Tensor]:
        """Normalised (centre, width) GT -> start/end in target units (released rounding:
        whole seconds, truncated), padded over the batch.

        Args:
            gt_spans: B tensors (K_b, 2).  timelines: (B,) seconds.
        Returns:
            units (B, K, 2) with K = max K_b, and their mask (B, K) bool.
        """
        spans = pad_sequence([g.reshape(-1, 2) for g in gt_spans], batch_first=True)  # (B, K, 2)
        units = (span_cxw_to_xx(spans) * timelines[:, None, None].to(spans)).to(torch.int32)
        counts = torch.tensor([len(g) for g in gt_spans], device=spans.device)
        return (units.float() / self.unit_seconds,
                torch.arange(spans.shape[1], device=spans.device) < counts[:, None])

    def assign(self, out: ATSSOutput, gt_units: Tensor, gt_valid: Tensor) -> Tensor:
        """ATSS assignment of every sample's valid anchors, the batch at once.

        Args:
            gt_units, gt_valid: of :meth:`to_units`.
        Returns:
            (B, S) long: the GT index of each anchor, -1 for background/padding.
        """
        anchors = out.anchors.split([m.shape[1] for m in out.level_masks])
        return self.assigner.assign(list(anchors), out.level_masks, gt_units, gt_valid)

    def loss(self, out: ATSSOutput, assigned: Tensor, gt_units: Tensor) -> Dict[str, Tensor]:
        """Focal classification over valid anchors (averaged over positives), and on the
        positives L1 and GIoU of the decoded spans weighted by the centerness targets,
        and centerness BCE.

        Args:
            assigned: (B, S) of :meth:`assign`.  gt_units: (B, K, 2) of :meth:`to_units`.
        """
        valid, positive = out.valid, assigned >= 0
        num_pos = max(int(positive.sum()), 1)
        labels = torch.where(positive, 0, 1)[valid]  # MMDetection: class 0, background 1
        losses = {'atss.loss_cls': self.loss_cls(out.cls_logits[valid][:, None], labels,
                                                 avg_factor=num_pos)}
        batch, index = positive.nonzero(as_tuple=True)
        if not len(batch):  # zero losses that keep every regression output in the graph
            zero = out.deltas.sum() * 0 + out.centerness.sum() * 0
            losses.update({f'atss.{k}': zero for k in ('loss_l1', 'loss_giou', 'loss_centerness')})
            return losses
        anchors = out.anchors[index]
        target = gt_units[batch, assigned[batch, index]].to(anchors)
        centre = anchors.mean(-1)
        left, right = centre - target[:, 0], target[:, 1] - centre
        ctr_target = torch.minimum(left, right) / torch.maximum(left, right)
        pred = self.coder.decode(anchors, out.deltas[batch, index])
        pred = torch.stack([pred[:, 0], torch.maximum(pred[:, 0], pred[:, 1])], -1)
        weight_sum = ctr_target.sum()
        losses['atss.loss_l1'] = self.loss_l1(pred, target, ctr_target[:, None].expand(-1, 2),
                                              avg_factor=weight_sum)
        losses['atss.loss_giou'] = self.loss_giou(lift_spans(pred), lift_spans(target),
                                                  ctr_target, avg_factor=weight_sum)
        losses['atss.loss_centerness'] = self.loss_centerness(
            out.centerness[batch, index], ctr_target, avg_factor=num_pos)
        return losses

    def collaborative_samples(self, out: ATSSOutput, assigned: Tensor,
                              gt_units: Tensor, levels: List[Tensor],
                              timelines: Tensor) -> Optional[AnchorSamples]:
        """Every positive anchor, with its pyramid feature and assigned GT (the
        collaborative queries of the DETR head), or None without positives.

        Samples are padded to the batch's largest number of positives with
        random valid negative anchors of their own (label 0).
        """
        valid, positive = out.valid, assigned >= 0
        size = int(positive.sum(1).max()) if positive.numel() else 0
        if size == 0:
            return None
        # positives first (score 2), then random valid negatives, padding last
        score = torch.where(positive, 2.0, torch.rand_like(assigned, dtype=torch.float))
        score = score.masked_fill(~valid, -1.0)
        index = score.topk(size, dim=1).indices  # (B, G)
        chosen = assigned.gather(1, index)
        features = torch.cat(levels, 1).gather(
            1, index[..., None].expand(-1, -1, levels[0].shape[-1]))
        scale = (self.unit_seconds / timelines)[:, None, None].to(features)
        targets = gt_units.to(features).gather(  # (rows of negatives are not read)
            1, chosen.clamp(min=0)[..., None].expand(-1, -1, 2))
        return AnchorSamples(features=features,
                             spans=span_xx_to_cxw(out.anchors[index]) * scale,
                             valid=score.gather(1, index) >= 0, labels=(chosen >= 0).float(),
                             target_spans=span_xx_to_cxw(targets) * scale)

    @torch.no_grad()
    def predict(self, out: ATSSOutput, timelines: Tensor, score_thr: float = 0.05,
                nms_thr: float = 0.5, max_per_video: int = 10) -> List[Dict[str, Tensor]]:
        """Candidates of every sample: score ``sqrt(sigmoid(cls) sigmoid(ctr))`` above
        ``score_thr``, decoded to seconds (clipped to the timeline), NMS, then the
        ``max_per_video`` best (ties at the last score kept).

        Returns:
            per sample ``dict(spans=(M, 2) seconds, scores=(M,))`` by decreasing score.
        """
        scores = (out.cls_logits.sigmoid() * out.centerness.sigmoid()).sqrt()
        keep = out.valid & (scores > score_thr)
        batch, index = keep.nonzero(as_tuple=True)
        spans = self.coder.decode(out.anchors[index], out.deltas[batch, index].float())
        spans = torch.minimum((spans * self.unit_seconds).clamp(min=0),
                              timelines.to(spans)[batch, None])
        scores = scores[batch, index].float()
        results = []
        if len(spans):
            _, kept = batched_nms(lift_spans(spans), scores.contiguous(), batch,
                                  dict(type='nms', iou_threshold=nms_thr))
            batch, spans, scores = batch[kept], spans[kept], scores[kept]
        for b in range(len(timelines)):
            mine = batch == b
            spans_b, scores_b = spans[mine], scores[mine]
            if len(scores_b) > max_per_video:
                threshold = scores_b.topk(max_per_video).values[-1]
                spans_b, scores_b = spans_b[scores_b >= threshold], scores_b[scores_b >= threshold]
            results.append(dict(spans=spans_b, scores=scores_b))
        return results

