"""The windows a benchmark reads from one query's ranked span list."""
from typing import Optional, Tuple

import torch
from torch import Tensor


def select_windows(spans: Tensor, scores: Tensor, max_windows: int = 10,
                   timeline: Optional[float] = None,
                   duration: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """Best ``max_windows`` windows of one query, by decreasing score.

    Args:
        spans: (F, 2) start/end, normalised when ``timeline`` is given.
        scores: (F,).
        max_windows: how many the benchmark reads (QVHighlights: 10).
        timeline: seconds spanned by [0, 1] (``num_clips * clip_len``); None
            leaves the spans in their unit.
        duration: clip the windows to [0, duration] and drop those left
            empty, before choosing (so that up to ``max_windows`` real ones
            remain); None skips it.
    Returns:
        windows (n, 2) and scores (n,), n <= max_windows.
    """
    if timeline is not None:
        spans = spans * timeline
    if duration is not None:
        spans = spans.clamp(min=0, max=duration)
        non_empty = spans[:, 1] > spans[:, 0]
        spans, scores = spans[non_empty], scores[non_empty]
    order = torch.sort(scores, descending=True, stable=True).indices
    order = order[:max_windows]
    return spans[order], scores[order]
