"""Per-clip training targets derived from the batch annotations."""
from typing import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence


def saliency_rank_labels(gt_saliency: Tensor) -> Tensor:
    """(B, L, A) per-annotator scores -> (B, L) rank label (sum over annotators).

    QVHighlights: 3 annotators x scores 0..4 -> 0..12; binary sets: 0/1.
    """
    return gt_saliency.sum(-1)


def clips_in_spans(gt_spans: Sequence[Tensor], video_mask: Tensor) -> Tensor:
    """Which real clips lie inside a GT window (their centre does).

    Args:
        gt_spans: B tensors (K_b, 2), start/end normalised to [0, 1] by the
            timeline of L_b real clips (clip i covers [i/L_b, (i+1)/L_b]).
        video_mask: (B, L) bool, True = real clip.
    Returns:
        (B, L) bool, False at padded clips.
    """
    num_clips = video_mask.sum(1, keepdim=True).clamp(min=1)  # (B, 1)
    centre = (torch.arange(video_mask.shape[1], device=video_mask.device) + 0.5) / num_clips
    spans = pad_sequence([s.reshape(-1, 2).to(centre) for s in gt_spans],
                         batch_first=True, padding_value=float('nan'))  # (B, K, 2)
    if spans.shape[1] == 0:
        return torch.zeros_like(video_mask)
    # NaN padding compares False, so padded windows contain no clip
    inside = (centre[:, :, None] >= spans[:, None, :, 0]) & \
        (centre[:, :, None] <= spans[:, None, :, 1])  # (B, L, K)
    return inside.any(-1) & video_mask
