"""Ranking losses on per-clip saliency scores (highlight detection)."""
import torch
from torch import Tensor


def saliency_margin_ranking_loss(saliency: Tensor, labels: Tensor, mask: Tensor,
                                 margin: float = 0.2) -> Tensor:
    """Hinge on every ordered pair of clips of a video.

    For real clips i, j with ``labels_i > labels_j``:
    ``max(0, margin - s_i + s_j)``. The mean over the pairs of a video, then
    over the videos that have a pair (all pairs, instead of a few sampled
    ones, so the loss is deterministic).

    Args:
        saliency: (B, L) logits.  labels: (B, L) rank labels.
        mask: (B, L) bool, True = real clip.
    Returns:
        scalar.
    """
    pairs = (labels[:, :, None] > labels[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    hinge = (margin - saliency[:, :, None] + saliency[:, None, :]).clamp(min=0)
    num_pairs = pairs.sum((1, 2))
    per_video = (hinge * pairs).sum((1, 2)) / num_pairs.clamp(min=1)
    has_pairs = num_pairs > 0
    return (per_video * has_pairs).sum() / has_pairs.sum().clamp(min=1)


def saliency_rank_contrastive_loss(saliency: Tensor, labels: Tensor, mask: Tensor,
                                   temperature: float = 0.5) -> Tensor:
    """Supervised contrastive loss per rank level.

    For every level r (each distinct positive label in the batch), the clips
    with ``label >= r`` are positives and each must win the softmax of
    ``saliency / temperature`` over all real clips of its video: ``-mean over
    positives of log_softmax``. A level counts for a video only if it splits
    the video (it has clips above and below r). The mean over those
    (level, video) pairs.

    Args:
        saliency: (B, L) logits.  labels: (B, L) rank labels.
        mask: (B, L) bool, True = real clip.
        temperature: softmax temperature.
    Returns:
        scalar.
    """
    levels = torch.unique(labels[mask & (labels > 0)])  # (R,)
    log_prob = (saliency / temperature).masked_fill(~mask, float('-inf')) \
        .log_softmax(-1).masked_fill(~mask, 0)
    above = labels[None] >= levels[:, None, None]  # (R, B, L)
    positive, negative = above & mask, ~above & mask
    num_positive = positive.sum(-1)
    valid = (num_positive > 0) & negative.any(-1)  # (R, B)
    mean_log_prob = (log_prob * positive).sum(-1) / num_positive.clamp(min=1)
    return -(mean_log_prob * valid).sum() / valid.sum().clamp(min=1)
