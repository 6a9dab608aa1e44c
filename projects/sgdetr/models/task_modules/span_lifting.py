"""Spans as unit-height boxes, so MMDetection's 2D box tools apply to 1D spans.

The span ``(start, end)`` becomes the box ``(start, 0, end, 1)``. Every box area
is then a span length times 1, so box IoU / GIoU equal span IoU / GIoU, and
every box centre is ``(c, 0.5)``, so centre distances are ``|c1 - c2|``; the
arithmetic is the same operation for operation, hence bitwise equal.
"""
import torch
from torch import Tensor


def lift_spans(spans: Tensor) -> Tensor:
    """(..., 2) start/end spans -> (..., 4) boxes ``(start, 0, end, 1)``."""
    start, end = spans.unbind(-1)
    zeros = torch.zeros_like(start)
    return torch.stack((start, zeros, end, zeros + 1), dim=-1)


def drop_height(boxes: Tensor) -> Tensor:
    """(..., 4+) boxes ``(x1, y1, x2, y2, ...)`` -> (..., 2) spans ``(x1, x2)``."""
    return boxes[..., 0:3:2]
