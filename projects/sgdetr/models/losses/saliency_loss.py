"""Highlight-detection losses on saliency logits (paper §3.7, as released)."""
from typing import Dict, Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS


def rank_contrastive_loss(saliency: Tensor, labels: Tensor, mask: Tensor, tau: float = 0.5,
                          num_levels: int = 12) -> Tensor:
    """Rank-contrastive loss: for every level r, clips labelled >= r against the rest.

    For r = 1 .. num_levels - 1, the softmax over a row's clips (temperature
    ``tau``) should put its mass on the clips whose label reaches r; the
    mean log-probability of those clips is averaged over the rows (rows
    without such a clip count 0) and the levels are summed, divided by
    ``num_levels``.

    Args:
        saliency: (R, T) logits.  labels: (R, T) graded labels (summed over
            annotators).  mask: (R, T) bool, True = valid clip.
    Returns:
        scalar.
    """
    scores = torch.where(mask, saliency, -1e3) / tau
    log_prob = scores - scores.max(1, keepdim=True).values
    log_prob = log_prob - torch.log(log_prob.exp().sum(1, keepdim=True) + 1e-6)
    levels = torch.arange(1, num_levels, device=labels.device)
    positive = (labels[None] >= levels[:, None, None]) & mask  # (r, R, T)
    count = positive.sum(-1)
    mean_log_prob = (positive * log_prob).sum(-1) / (count + 1e-6)
    return -(mean_log_prob * (count > 0)).mean(-1).sum() / num_levels


@MODELS.register_module()
class SaliencyLoss(nn.Module):
    """BCE, negative-pair, margin and rank-contrastive terms on one saliency output.

    - ``loss_bce``: BCE of every valid clip against ``clamp(label, 0, 1)``
      (``label > 0`` for integer labels; TVSum's graded labels below 1 are
      soft targets, as released);
    - ``loss_neg``: ``-log(1 - sigmoid(s))`` on the clips of videos paired
      with another sample's query (mean over their valid clips);
    - ``loss_margin``: ``max(0, margin + sigmoid(s_neg) - sigmoid(s_pos))`` on
      the sampled clip pairs (index -1: no pair), times 2;
    - ``loss_rank``: :func:`rank_contrastive_loss`, where a video with a
      negative pair is ranked together with the negative pair's clips (label
      0), times ``rank_weight``.

    Args:
        margin: of the margin term.  tau: rank-contrastive temperature.
        num_levels: rank levels (labels summed over 3 annotators reach 12).
        rank_weight: factor of the rank term.  loss_weight: factor of all.
    """

    def __init__(self, margin: float = 0.15, tau: float = 0.5, num_levels: int = 12,
                 rank_weight: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.margin, self.tau, self.num_levels = margin, tau, num_levels
        self.rank_weight, self.loss_weight = rank_weight, loss_weight

    def forward(self, saliency: Tensor, mask: Tensor, labels: Tensor, pos_clips: Tensor,
                neg_clips: Tensor, neg_saliency: Optional[Tensor] = None,
                neg_rows: Optional[Tensor] = None, prefix: str = 'hd') -> Dict[str, Tensor]:
        """
        Args:
            saliency: (B, L) logits.  mask: (B, L) bool.  labels: (B, L) graded.
            pos_clips, neg_clips: (B, P) clip indices, ``pos[i]`` above ``neg[i]``;
                -1 where a sample has no pair.
            neg_saliency: (R, L) logits of video ``neg_rows[r]`` with another
                sample's query, or None.  neg_rows: (R,) long.
        Returns:
            weighted ``{prefix}.loss_bce|loss_neg|loss_margin|loss_rank``.
        """
        losses = dict(loss_bce=F.binary_cross_entropy_with_logits(
            saliency[mask], labels[mask].clamp(0, 1).to(saliency.dtype)))
        prob = saliency.sigmoid()
        # -1 marks a sample without relevant clips (no pair): left out
        pair = (pos_clips >= 0) & (neg_clips >= 0)
        gap = self.margin + prob.gather(1, neg_clips.clamp(min=0)) \
            - prob.gather(1, pos_clips.clamp(min=0))
        losses['loss_margin'] = (gap.clamp(min=0) * pair).sum() / pair.sum().clamp(min=1) * 2
        paired = torch.zeros_like(mask[:, 0])
        rank = saliency.new_zeros(())
        if neg_saliency is not None and len(neg_rows):
            neg_mask = mask[neg_rows]
            losses['loss_neg'] = -torch.log((1 - neg_saliency.sigmoid()[neg_mask]).clamp(min=1e-7)
                                            ).mean()
            rank = rank + rank_contrastive_loss(
                torch.cat([saliency[neg_rows], neg_saliency], 1),
                torch.cat([labels[neg_rows], torch.zeros_like(labels[neg_rows])], 1),
                neg_mask.repeat(1, 2), self.tau, self.num_levels)
            paired[neg_rows] = True
        if not paired.all():
            alone = ~paired
            rank = rank + rank_contrastive_loss(saliency[alone], labels[alone], mask[alone],
                                                self.tau, self.num_levels)
        losses['loss_rank'] = rank * self.rank_weight
        return {f'{prefix}.{k}': v * self.loss_weight for k, v in losses.items()}
