"""Highlight-detection loss of one saliency output (paper §3.7, eq. 11)."""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from .saliency_ranking import saliency_margin_ranking_loss, saliency_rank_contrastive_loss
from .targets import saliency_rank_labels

TERMS = ('margin', 'rank', 'bce_pos', 'bce_neg')


@MODELS.register_module()
class SaliencyLoss(nn.Module):
    """``L_hl = L_marg + L_rctl + L_bce_pos + L_bce_neg`` on (B, L) saliency logits.

    - ``margin``: :func:`saliency_margin_ranking_loss` on the rank labels
      (gt_saliency summed over annotators).
    - ``rank``: :func:`saliency_rank_contrastive_loss`; with a negative pair its
      clips join the contrast as the lowest rank (label 0), as in CG-DETR.
    - ``bce_pos``: per-clip BCE, target 1 on moment clips (``positive_mask``,
      default: clips with a non-zero label) and 0 on the other real clips; mean
      over real clips.
    - ``bce_neg``: BCE towards 0 on every clip of the video paired with another
      sample's query. ``neg_reduction='mean'`` averages over the clips, as
      ``bce_pos`` does; ``'sum'`` sums over the clips of a video and averages
      over videos (QD-DETR / CG-DETR), which weighs the term about L times more:
      the global saliency then learns mostly whether the query matches the
      video at all, and in HD-only training on the synthetic data it collapsed
      the context features of a video to one vector. Hence the default.

    Call it once per saliency output (``name='local'``, ``'global'``).

    Args:
        margin: hinge margin.  temperature: rank-contrastive temperature.
        loss_weights: weight per term (``margin, rank, bce_pos, bce_neg``); a
            term with weight 0 is not computed.
        loss_weight: multiplies every term (lambda_hl).
        neg_reduction: ``'sum'`` or ``'mean'`` over the clips of a negative pair.
        loss_bce: a sigmoid loss on (N,) logits and (N,) targets.
    """

    def __init__(self, margin: float = 0.2, temperature: float = 0.5,
                 loss_weights: Optional[Dict[str, float]] = None,
                 loss_weight: float = 1.0, neg_reduction: str = 'mean',
                 loss_bce: Optional[dict] = None):
        super().__init__()
        assert neg_reduction in ('sum', 'mean'), neg_reduction
        self.loss_weights = {**dict.fromkeys(TERMS, 1.0), **(loss_weights or {})}
        assert set(self.loss_weights) == set(TERMS), f'terms are {TERMS}'
        self.margin = margin
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.neg_reduction = neg_reduction
        self.bce = MODELS.build(loss_bce or dict(
            type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))

    def forward(self, saliency: Tensor, video_mask: Tensor, gt_saliency: Tensor,
                neg_saliency: Optional[Tensor] = None,
                neg_video_mask: Optional[Tensor] = None,
                positive_mask: Optional[Tensor] = None,
                name: str = 'local') -> Dict[str, Tensor]:
        """Compute the weighted HD terms.

        Args:
            saliency: (B, L) logits of the (video, query) pairs.
            video_mask: (B, L) bool, True = real clip.
            gt_saliency: (B, L, A) per-annotator scores, anything at padding.
            neg_saliency: (B, L) logits of each video with another sample's
                query; None skips ``bce_neg`` and the negative clips in ``rank``.
            neg_video_mask: (B, L) bool real clips of the negative pairs
                (default ``video_mask``); an all-False row drops that pair.
            positive_mask: (B, L) bool moment clips for ``bce_pos``.
        Returns:
            ``loss_hd_{term}_{name}`` scalars.
        """
        video_mask = video_mask.bool()
        labels = saliency_rank_labels(gt_saliency).to(saliency.dtype)
        if positive_mask is None:
            positive_mask = labels > 0
        has_neg = neg_saliency is not None
        if has_neg:
            neg_video_mask = video_mask if neg_video_mask is None else neg_video_mask.bool()
        w = self.loss_weights
        losses = {}
        if w['margin']:
            losses['margin'] = saliency_margin_ranking_loss(
                saliency, labels, video_mask, self.margin)
        if w['rank']:
            contrast = (saliency, labels, video_mask)
            if has_neg:  # the other query's clips rank below every clip of its own
                contrast = (torch.cat((saliency, neg_saliency), 1),
                            torch.cat((labels, torch.zeros_like(labels)), 1),
                            torch.cat((video_mask, neg_video_mask), 1))
            losses['rank'] = saliency_rank_contrastive_loss(*contrast, self.temperature)
        if w['bce_pos']:
            losses['bce_pos'] = self.bce(saliency[video_mask],
                                         positive_mask[video_mask].to(saliency.dtype),
                                         avg_factor=video_mask.sum().clamp(min=1))
        if w['bce_neg'] and has_neg:
            logits = neg_saliency[neg_video_mask]
            avg = neg_video_mask.any(1) if self.neg_reduction == 'sum' else neg_video_mask
            losses['bce_neg'] = self.bce(logits, torch.zeros_like(logits),
                                         avg_factor=avg.sum().clamp(min=1))
        return {f'loss_hd_{term}_{name}': self.loss_weight * w[term] * value
                for term, value in losses.items()}
