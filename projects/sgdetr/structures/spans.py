"""1D span geometry, the one implementation of the package for torch tensors
and numpy arrays alike. A span is ``(start, end)`` ("xx") or ``(center,
width)`` ("cxw"); the last dimension of every array here has size 2."""
from typing import Tuple, Union

import numpy as np
import torch
from torch import Tensor

Array = Union[Tensor, np.ndarray]


def _stack(parts, like: Array) -> Array:
    return torch.stack(parts, -1) if isinstance(like, Tensor) else np.stack(parts, -1)


def span_cxw_to_xx(spans: Array) -> Array:
    """(..., 2) centre/width -> (..., 2) start/end."""
    cx, w = spans[..., 0], spans[..., 1]
    return _stack((cx - 0.5 * w, cx + 0.5 * w), spans)


def span_xx_to_cxw(spans: Array) -> Array:
    """(..., 2) start/end -> (..., 2) centre/width."""
    st, ed = spans[..., 0], spans[..., 1]
    return _stack((0.5 * (st + ed), ed - st), spans)


def span_overlap(spans1: Array, spans2: Array, aligned: bool = False
                 ) -> Tuple[Array, Array]:
    """Intersection and union lengths of xx spans.

    The float operations are those of the official QVHighlights evaluation
    (union = length1 + length2 - intersection), so the metrics built on it
    score value for value as the official code.

    Args:
        spans1: (..., N, 2).  spans2: (..., M, 2), or (..., N, 2) if aligned
            (any shapes that broadcast).
    Returns:
        intersection, union: (..., N, M), or (..., N) if ``aligned``.
    """
    if aligned:
        s1, e1 = spans1[..., 0], spans1[..., 1]
        s2, e2 = spans2[..., 0], spans2[..., 1]
    else:
        s1, e1 = spans1[..., :, None, 0], spans1[..., :, None, 1]
        s2, e2 = spans2[..., None, :, 0], spans2[..., None, :, 1]
    xp = torch if isinstance(spans1, Tensor) else np
    inter = (xp.minimum(e1, e2) - xp.maximum(s1, s2)).clip(min=0)
    union = (e1 - s1) + (e2 - s2) - inter
    return inter, union


def span_iou(spans1: Array, spans2: Array, aligned: bool = False,
             eps: float = 1e-6) -> Array:
    """IoU of xx spans; a union below ``eps`` counts as ``eps`` (the model's
    losses and costs, which must stay finite).

    Args:
        spans1: (..., N, 2).  spans2: (..., M, 2), or (..., N, 2) if aligned.
    Returns:
        (..., N, M) pairwise IoU, or (..., N) if ``aligned``.
    """
    inter, union = span_overlap(spans1, spans2, aligned)
    return inter / union.clip(min=eps)


def span_iou_exact(spans1: np.ndarray, spans2: np.ndarray, aligned: bool = False
                   ) -> np.ndarray:
    """:func:`span_iou` without ``eps``, as the official evaluation divides:
    NaN where both spans are empty and coincide. Shapes as :func:`span_iou`."""
    inter, union = span_overlap(spans1, spans2, aligned)
    with np.errstate(invalid='ignore', divide='ignore'):
        return inter / union


def span_giou(spans1: Tensor, spans2: Tensor, aligned: bool = False,
              eps: float = 1e-6) -> Tensor:
    """Generalised IoU of xx spans; shapes as :func:`span_iou`."""
    inter, union = span_overlap(spans1, spans2, aligned)
    if aligned:
        s1, e1, s2, e2 = spans1[..., 0], spans1[..., 1], spans2[..., 0], spans2[..., 1]
    else:
        s1, e1 = spans1[..., :, None, 0], spans1[..., :, None, 1]
        s2, e2 = spans2[..., None, :, 0], spans2[..., None, :, 1]
    enclose = torch.maximum(e1, e2) - torch.minimum(s1, s2)
    return inter / union.clamp(min=eps) - (enclose - union) / enclose.clamp(min=eps)


def lift_spans(spans: Tensor) -> Tensor:
    """(..., 2) start/end spans -> (..., 4) boxes ``(start, 0, end, 1)``.

    Unit-height boxes have exactly the 1D IoU / GIoU and centre distances of
    their spans, so MMDetection's box losses, coders and assigners apply.
    """
    start, end = spans.unbind(-1)
    zeros = torch.zeros_like(start)
    return torch.stack((start, zeros, end, zeros + 1), dim=-1)


def drop_height(boxes: Tensor) -> Tensor:
    """(..., 4+) boxes ``(x1, y1, x2, y2, ...)`` -> (..., 2) spans ``(x1, x2)``."""
    return boxes[..., 0:3:2]
