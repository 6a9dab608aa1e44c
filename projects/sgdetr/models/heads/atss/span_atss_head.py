"""ATSS head over the video features: the hybrid detector's auxiliary head."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.utils import reduce_mean
from mmengine.model import BaseModule, bias_init_with_prob
from torch import Tensor, nn

from sgdetr.models.layers.query_group import QueryGroup
from sgdetr.structures import lift_spans
from sgdetr.registry import MODELS, TASK_UTILS
from sgdetr.structures.spans import span_iou, span_xx_to_cxw
from .atss_targets import (assign_anchors, centerness_target,
                           matched_gt_spans)
from .masked_conv_tower import MaskedConvTower
from .positive_queries import positive_anchor_group
from .span_anchors import clip_anchors


@MODELS.register_module()
class SpanATSSHead(BaseModule):
    """Dense 1D detector: focal classification, span regression through a
    delta coder, and centerness, with ATSS assignment.

    Anchors: ``len(anchor_widths)`` anchors centred on every clip, at one
    temporal resolution, rather than a strided feature pyramid. The features
    come out of a transformer encoder, so every clip already sees the whole
    video and a pyramid adds no receptive field; the single level keeps one
    anchor centre per clip (finest localisation, and a positive anchor's query
    content is simply its clip's feature), and padding stays exact (a strided
    cell would mix real and padded clips). Each width acts as one ATSS level.
    Measured with this assigner (topk 9) on 600 moments of log-uniform length
    1-75 clips in a 75-clip video: widths 1..64 at every clip (525 anchors)
    give every moment positives, 10.2 per moment, mean IoU 0.65 (best 0.81);
    a pyramid of strides 1..32 with 2-stride-wide anchors (150 anchors) gives
    5.1 positives, mean IoU 0.53 (best 0.74). Longer videos may want a
    width of 128 too.

    Regression losses follow the paper's eq. 13: L1 on normalised
    (centre, width) and GIoU, both on decoded spans and, as in ATSS, weighted
    by the positives' centerness targets; classification is focal over every
    real clip's anchors, normalised by the number of positives; centerness is
    BCE on the positives. Default weights are §4.4's (λ_CE 5, λ_L1 10,
    λ_gIoU 1, λ_centerness 1); ``loss_weight`` (λ_atss) scales all four.

    Args:
        in_channels: H of ``memory``.
        feat_channels: channels of the two conv towers.
        num_convs: convs per tower (the encoder already provides context).
        num_groups: GroupNorm groups.
        anchor_widths: anchor widths in clips.
        assigner / span_coder: TASK_UTILS configs.
        loss_cls / loss_l1 / loss_giou / loss_centerness: MODELS configs.
        loss_weight: λ_atss, multiplies every loss of the head.
        max_positive_queries: cap on positive anchors per sample handed to
            the DETR decoder (highest IoU with their GT first).
        query_group_loss_weight: loss weight of that query group.
        num_predictions: K spans per sample returned by ``predict``.
        nms_iou_thr: IoU of the 1D NMS in ``predict``; None disables it.
        prior_prob: initial foreground probability of the classifier.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_convs: int = 2,
                 num_groups: int = 32,
                 anchor_widths: Sequence[float] = (1, 2, 4, 8, 16, 32, 64),
                 assigner: dict = dict(type='SpanATSSAssigner', topk=9),
                 span_coder: dict = dict(type='SpanDeltaCoder'),
                 loss_cls: dict = dict(type='mmdet.FocalLoss', use_sigmoid=True,
                                       gamma=2.0, alpha=0.25, loss_weight=5.0),
                 loss_l1: dict = dict(type='mmdet.L1Loss', loss_weight=10.0),
                 loss_giou: dict = dict(type='mmdet.GIoULoss', loss_weight=1.0),
                 loss_centerness: dict = dict(type='mmdet.CrossEntropyLoss',
                                              use_sigmoid=True, loss_weight=1.0),
                 loss_weight: float = 1.0,
                 max_positive_queries: int = 64,
                 query_group_loss_weight: float = 1.0,
                 num_predictions: int = 25,
                 nms_iou_thr: Optional[float] = 0.7,
                 prior_prob: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.anchor_widths = tuple(anchor_widths)
        num_anchors = len(self.anchor_widths)
        self.cls_tower = MaskedConvTower(in_channels, feat_channels, num_convs,
                                         num_groups)
        self.reg_tower = MaskedConvTower(in_channels, feat_channels, num_convs,
                                         num_groups)
        self.cls_out = nn.Conv1d(feat_channels, num_anchors, 3, padding=1)
        self.reg_out = nn.Conv1d(feat_channels, 2 * num_anchors, 3, padding=1)
        self.centerness_out = nn.Conv1d(feat_channels, num_anchors, 3, padding=1)
        self.assigner = TASK_UTILS.build(assigner)
        self.span_coder = TASK_UTILS.build(span_coder)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_l1 = MODELS.build(loss_l1)
        self.loss_giou = MODELS.build(loss_giou)
        self.loss_centerness = MODELS.build(loss_centerness)
        self.loss_weight = loss_weight
        self.max_positive_queries = max_positive_queries
        self.query_group_loss_weight = query_group_loss_weight
        self.num_predictions = num_predictions
        self.nms_iou_thr = nms_iou_thr
        self.prior_prob = prior_prob
        self._reset_parameters()

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            self._reset_parameters()

    def _reset_parameters(self) -> None:
        """ATSS initialisation: N(0, 0.01) convs, classifier bias at the prior."""
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.constant_(self.cls_out.bias,
                          bias_init_with_prob(self.prior_prob))

    def forward(self, memory: Tensor, memory_mask: Tensor
                ) -> Tuple[Tensor, Tensor, Tensor]:
        """memory (B, L, H), memory_mask (B, L) bool ->
        cls logits (B, A, L), deltas (B, A, L, 2), centerness logits (B, A, L).
        Values on padded clips are meaningless and never used."""
        features = memory.transpose(1, 2)
        cls_features = self.cls_tower(features, memory_mask)
        reg_features = self.reg_tower(features, memory_mask)
        B, L = memory_mask.shape
        deltas = self.reg_out(reg_features).view(B, -1, 2, L).transpose(2, 3)
        return (self.cls_out(cls_features), deltas,
                self.centerness_out(reg_features))

    def loss(self, memory: Tensor, memory_mask: Tensor, gt_spans: List[Tensor]
             ) -> Tuple[Dict[str, Tensor], QueryGroup]:
        """Training losses and the positive anchors as a decoder query group.

        Args:
            memory: (B, L, H).  memory_mask: (B, L) bool, True = real clip;
                padding at the end, as the data preprocessor makes it (clip
                i sits at i / num_real_clips in normalised units).
            gt_spans: list of B (K_b, 2) normalised start/end GT spans.
        Returns:
            ``{'atss.loss_cls', 'atss.loss_l1', 'atss.loss_giou',
            'atss.loss_centerness'}`` scalars, and the ``QueryGroup`` of
            positive anchors (see ``positive_anchor_group``).
        """
        cls_logits, deltas, centerness_logits = self(memory, memory_mask)
        B, A, L = cls_logits.shape
        anchors = clip_anchors(L, self.anchor_widths, memory.device)
        num_clips = self._num_clips(memory_mask, memory.dtype)
        clip_scale = num_clips.view(B, 1, 1)
        gt_clip_units = [spans * n for spans, n in zip(gt_spans, num_clips)]
        assigned = assign_anchors(self.assigner, anchors, memory_mask,
                                  gt_clip_units)
        matched_gt = matched_gt_spans(gt_clip_units, assigned)

        positive = assigned >= 0
        num_pos = reduce_mean(positive.sum().to(memory.dtype)).clamp(min=1.0)
        real = memory_mask.unsqueeze(1).expand(B, A, L)
        # mmdet label convention: 0 = the (only) foreground class, 1 = none.
        labels = (~positive).long()
        losses = {'atss.loss_cls': self.loss_cls(
            cls_logits[real].unsqueeze(-1), labels[real], avg_factor=num_pos)}
        losses.update(self._positive_losses(
            anchors.expand(B, A, L, 2)[positive], deltas[positive],
            centerness_logits[positive], matched_gt[positive],
            clip_scale.expand(B, A, L)[positive].unsqueeze(-1), num_pos))
        losses = {k: v * self.loss_weight for k, v in losses.items()}

        anchor_ious = span_iou(anchors.expand(B, A, L, 2), matched_gt,
                               aligned=True)
        group = positive_anchor_group(
            memory, anchors, assigned, anchor_ious, num_clips,
            self.max_positive_queries, self.query_group_loss_weight)
        return losses, group

    def _positive_losses(self, anchors: Tensor, deltas: Tensor,
                         centerness_logits: Tensor, gt_spans: Tensor,
                         num_clips: Tensor, num_pos: Tensor
                         ) -> Dict[str, Tensor]:
        """L1, GIoU and centerness losses of the P positive anchors.

        Args:
            anchors (P, 2), gt_spans (P, 2): clip units.  deltas (P, 2).
            centerness_logits (P,).  num_clips (P, 1): their samples' lengths.
            num_pos: positives in the batch (averaged over processes).
        """
        pred_spans = self.span_coder.decode(anchors, deltas) / num_clips
        target_spans = gt_spans / num_clips
        centerness = centerness_target(anchors, gt_spans)
        centerness_sum = reduce_mean(centerness.sum()).clamp(min=1e-6)
        return {
            'atss.loss_l1': self.loss_l1(
                span_xx_to_cxw(pred_spans), span_xx_to_cxw(target_spans),
                weight=centerness.unsqueeze(-1).expand(-1, 2),
                avg_factor=centerness_sum),
            'atss.loss_giou': self.loss_giou(
                lift_spans(pred_spans), lift_spans(target_spans),
                weight=centerness, avg_factor=centerness_sum),
            'atss.loss_centerness': self.loss_centerness(
                centerness_logits, centerness, avg_factor=num_pos),
        }

    @torch.no_grad()
    def predict(self, memory: Tensor, memory_mask: Tensor
                ) -> Tuple[Tensor, Tensor]:
        """Top-K spans per sample, scored sqrt(sigmoid(cls) * sigmoid(centerness)),
        after 1D NMS (if ``nms_iou_thr``). ATSS ranks by the product; its square
        root ranks the same and puts the score on the scale of the DETR head's
        p^0.5 * IoU^0.5, so that weighted span fusion compares like with like.

        Args:
            memory: (B, L, H).  memory_mask: (B, L) bool.
        Returns:
            spans (B, K, 2) normalised start/end clipped to [0, 1], and scores
            (B, K) in decreasing order; K = ``num_predictions``. Rows a sample
            cannot fill (too few anchors survive) have span (0, 0), score 0.
        """
        cls_logits, deltas, centerness_logits = self(memory, memory_mask)
        B, A, L = cls_logits.shape
        anchors = clip_anchors(L, self.anchor_widths, memory.device)
        num_clips = self._num_clips(memory_mask, memory.dtype).view(B, 1, 1, 1)
        spans = (self.span_coder.decode(anchors, deltas) / num_clips).clamp(0, 1)
        scores = (cls_logits.sigmoid() * centerness_logits.sigmoid()).sqrt()
        alive = memory_mask.unsqueeze(1) & (spans[..., 1] > spans[..., 0])
        spans, scores, alive = spans.flatten(1, 2), scores.flatten(1), \
            alive.flatten(1)
        if self.nms_iou_thr is not None:
            alive = self._nms_survivors(spans, scores, alive)
        num_kept = min(self.num_predictions, A * L)
        top_scores, top_index = scores.masked_fill(~alive, -1).topk(num_kept, 1)
        top_spans = spans.gather(1, top_index.unsqueeze(-1).expand(-1, -1, 2))
        filled = top_scores >= 0
        top_spans = top_spans * filled.unsqueeze(-1)
        top_scores = top_scores.clamp(min=0)
        if num_kept < self.num_predictions:
            padding = self.num_predictions - num_kept
            top_spans = nn.functional.pad(top_spans, (0, 0, 0, padding))
            top_scores = nn.functional.pad(top_scores, (0, padding))
        return top_spans, top_scores

    @staticmethod
    def _num_clips(memory_mask: Tensor, dtype: torch.dtype) -> Tensor:
        """(B,) real clips per sample, the unit of normalised spans (at least
        1 so that an empty sample cannot divide by zero)."""
        return memory_mask.sum(1).clamp(min=1).to(dtype)

    def _nms_survivors(self, spans: Tensor, scores: Tensor, alive: Tensor
                       ) -> Tensor:
        """spans (B, N, 2), scores (B, N), alive (B, N) -> (B, N) bool: alive
        and kept by NMS within its own sample."""
        # compiled ops are needed only at inference, so import them here
        from mmcv.ops import batched_nms
        if not alive.any():  # batched_nms cannot take an empty input
            return alive
        sample, index = alive.nonzero(as_tuple=True)
        # On unit-height lifted boxes 2D NMS is 1D NMS; batched over samples.
        _, keep = batched_nms(lift_spans(spans[sample, index]),
                              scores[sample, index], sample,
                              dict(iou_threshold=self.nms_iou_thr))
        survivors = torch.zeros_like(alive)
        survivors[sample[keep], index[keep]] = True
        return survivors
