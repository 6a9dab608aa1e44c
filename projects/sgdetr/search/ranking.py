"""Second stage: the model's windows of every candidate, scored on one scale
for the whole library, duplicates merged.

A window's score from the detection head (DETR: ``sqrt(p * IoU)``) ranks
windows *within* the video it was computed on: it was trained on (video,
query) pairs whose video holds the moment, so a video without it still gets
confident-looking windows. The saliency logits were also trained on pairs
whose video is another sample's (``-log(1 - sigmoid)`` on every clip of the
pair), so ``sigmoid(saliency)`` says whether the query is in *this* video at
all, on one scale for every video. A moment scores (``moment_score``):

- ``'window'``: the head's score alone;
- ``'saliency'``: the mean ``sigmoid(saliency)`` of the clips it covers;
- ``'window*saliency'`` (default): their product.
"""
from typing import Tuple

import numpy as np
import torch
from mmcv.ops import batched_nms

from sgdetr.structures import lift_spans

SCORE_MODES = ('window', 'saliency', 'window*saliency')


def moment_scores(windows: np.ndarray, saliency: np.ndarray, clip_len: float,
                  mode: str = 'window*saliency') -> np.ndarray:
    """Scores of one candidate's windows on the library's scale.

    Args:
        windows: (M, 3) ``[start, end, score]``, seconds from the candidate's start.
        saliency: (n,) logits of the candidate's clips.
        clip_len: seconds per clip.
        mode: one of :data:`SCORE_MODES`.
    Returns:
        (M,) float64.
    """
    if mode not in SCORE_MODES:
        raise ValueError(f'moment_score must be one of {SCORE_MODES}, got {mode!r}')
    window = windows[:, 2].astype(np.float64)
    if mode == 'window' or not len(windows):
        return window
    centres = (np.arange(len(saliency)) + 0.5) * clip_len
    inside = (centres[None] >= windows[:, :1]) & (centres[None] <= windows[:, 1:2])  # (M, n)
    middle = np.clip(((windows[:, 0] + windows[:, 1]) / 2 // clip_len).astype(np.int64), 0,
                     len(saliency) - 1)
    inside[np.arange(len(windows)), middle] = True  # a window shorter than a clip
    probability = 1.0 / (1.0 + np.exp(-saliency.astype(np.float64)))
    mean = (inside * probability[None]).sum(1) / inside.sum(1)
    return mean if mode == 'saliency' else window * mean


def merge_moments(video: np.ndarray, spans: np.ndarray, scores: np.ndarray,
                  iou_threshold: float = 0.7) -> np.ndarray:
    """Indices of the moments kept, best first: of two moments of one video
    overlapping by more than ``iou_threshold`` (overlapping candidate windows
    find the same moment twice), the lower-scored one goes.

    Args:
        video: (M,) int video of each moment.  spans: (M, 2) seconds.
        scores: (M,).
    """
    if not len(scores):
        return np.zeros(0, dtype=np.int64)
    _, kept = batched_nms(lift_spans(torch.as_tensor(spans, dtype=torch.float32)),
                          torch.as_tensor(scores, dtype=torch.float32),
                          torch.as_tensor(video, dtype=torch.long),
                          dict(type='nms', iou_threshold=iou_threshold))
    kept = kept.numpy()
    return kept[np.argsort(-scores[kept], kind='stable')]


def offset_windows(windows: np.ndarray, offset: float, duration: float) -> Tuple[np.ndarray,
                                                                                 np.ndarray]:
    """(M, 3) windows of a candidate -> ((M, 2) seconds in the video, clipped to
    its duration, (M,) head scores)."""
    spans = np.clip(windows[:, :2] + offset, 0.0, duration)
    return spans, windows[:, 2]
