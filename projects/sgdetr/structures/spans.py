"""1D span utilities. A span is ``(start, end)`` ("xx") or ``(center, width)``
("cxw"); the last dimension of every tensor here has size 2."""
import torch
from torch import Tensor


def span_cxw_to_xx(spans: Tensor) -> Tensor:
    """(..., 2) centre/width -> (..., 2) start/end."""
    cx, w = spans.unbind(-1)
    return torch.stack((cx - 0.5 * w, cx + 0.5 * w), dim=-1)


def span_xx_to_cxw(spans: Tensor) -> Tensor:
    """(..., 2) start/end -> (..., 2) centre/width."""
    st, ed = spans.unbind(-1)
    return torch.stack((0.5 * (st + ed), ed - st), dim=-1)


def span_iou(spans1: Tensor, spans2: Tensor, aligned: bool = False,
             eps: float = 1e-6) -> Tensor:
    """IoU of xx spans.

    Args:
        spans1: (..., N, 2).  spans2: (..., M, 2), or (..., N, 2) if aligned.
    Returns:
        (..., N, M) pairwise IoU, or (..., N) if ``aligned``.
    """
    return _iou_giou(spans1, spans2, aligned, eps)[0]


def span_giou(spans1: Tensor, spans2: Tensor, aligned: bool = False,
              eps: float = 1e-6) -> Tensor:
    """Generalised IoU of xx spans; shapes as :func:`span_iou`."""
    iou, union, enclose = _iou_giou(spans1, spans2, aligned, eps)
    return iou - (enclose - union) / enclose.clamp(min=eps)


def _iou_giou(spans1, spans2, aligned, eps):
    if aligned:
        s1, e1 = spans1[..., 0], spans1[..., 1]
        s2, e2 = spans2[..., 0], spans2[..., 1]
    else:
        s1, e1 = spans1[..., :, None, 0], spans1[..., :, None, 1]
        s2, e2 = spans2[..., None, :, 0], spans2[..., None, :, 1]
    inter = (torch.minimum(e1, e2) - torch.maximum(s1, s2)).clamp(min=0)
    union = (e1 - s1) + (e2 - s2) - inter
    enclose = torch.maximum(e1, e2) - torch.minimum(s1, s2)
    return inter / union.clamp(min=eps), union, enclose


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
