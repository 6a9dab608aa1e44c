"""From a head's spans to the windows a benchmark reads (the released rules)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from sgdetr.structures.spans import span_cxw_to_xx


def round_scores(scores: Tensor, digits: int = 4) -> Tensor:
    """Scores rounded to ``digits`` decimals, as the released model writes them."""
    scale = 10.0**digits
    return torch.round(scores * scale) / scale


def finalize_windows(windows: Tensor, duration: float, round_to: float,
                     min_length: float) -> Tensor:
    """Clip to [0, duration], round to multiples of ``round_to`` seconds, widen
    windows shorter than ``min_length`` about their centre (moved inside the
    video if the widened window would leave it), clip again.

    Args:
        windows: (M, 2) start/end seconds.
    Returns:
        (M, 2), same order.
    """
    windows = windows.clamp(min=0, max=duration)
    if round_to:
        windows = torch.round(windows / round_to) * round_to
    short = (windows[:, 1] - windows[:, 0]) < min_length
    centre = windows.mean(-1, keepdim=True)
    if duration >= min_length:
        centre = centre.clamp(min=min_length / 2, max=duration - min_length / 2)
    widened = torch.cat([centre - min_length / 2, centre + min_length / 2], -1)
    return torch.where(short[:, None], widened, windows).clamp(min=0, max=duration)


def detr_windows(spans: Tensor, probs: Tensor, ious: Tensor, timeline: float,
                 duration: float, round_to: float, min_length: float,
                 max_windows: int = 10) -> Tuple[Tensor, Tensor]:
    """Windows of one query from the DETR head.

    Queries are ordered by foreground probability p; each window is scored
    ``sqrt(p * IoU)`` with p and IoU rounded to 4 decimals (the order is
    not re-sorted by that score: the benchmark reads the windows in the
    order given).

    Args:
        spans: (Q, 2) normalised (centre, width).  probs, ious: (Q,).
        timeline: seconds spanned by [0, 1].  duration: of the video.
    Returns:
        windows (n, 2) seconds and scores (n,), n <= max_windows.
    """
    order = torch.argsort(probs, descending=True, stable=True)[:max_windows]
    windows = (span_cxw_to_xx(spans[order]) * timeline).clamp(min=0, max=timeline)
    scores = (round_scores(probs[order]) * round_scores(ious[order])).sqrt()
    return finalize_windows(windows, duration, round_to, min_length), scores


def select_windows(spans: Tensor, scores: Tensor, max_windows: int = 10,
                   timeline: Optional[float] = None,
                   duration: Optional[float] = None) -> Tuple[Tensor, Tensor]:
    """Best ``max_windows`` windows of one query, by decreasing score.

    Args:
        spans: (F, 2) start/end, normalised when ``timeline`` is given.
        scores: (F,).
        max_windows: how many the benchmark reads (QVHighlights: 10).
        timeline: seconds spanned by [0, 1]; None leaves the spans in their unit.
        duration: clip the windows to [0, duration] and drop those left
            empty, before choosing; None skips it.
    Returns:
        windows (n, 2) and scores (n,), n <= max_windows.
    """
    if timeline is not None:
        spans = spans * timeline
    if duration is not None:
        spans = spans.clamp(min=0, max=duration)
        non_empty = spans[:, 1] > spans[:, 0]
        spans, scores = spans[non_empty], scores[non_empty]
    order = torch.sort(scores, descending=True, stable=True).indices[:max_windows]
    return spans[order], scores[order]
