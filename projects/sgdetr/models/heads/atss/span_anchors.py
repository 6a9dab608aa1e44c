"""Anchor spans of the pyramid levels, in the units of the ATSS targets."""
from typing import List, Sequence

import torch
from torch import Tensor


def level_anchors(lengths: Sequence[int], strides: Sequence[float],
                  sizes: Sequence[float], device=None) -> List[Tensor]:
    """One anchor per position of every level.

    Position i of a level with stride s carries the anchor centred at
    ``(i + 1/2) s`` whose (inclusive, +1) width is the level's size z:
    ``[c - (z - 1) / 2, c + (z - 1) / 2]``.

    Args:
        lengths: L_k of every level.  strides: s_k.  sizes: z_k.
    Returns:
        per level (L_k, 2) start/end.
    """
    anchors = []
    for length, stride, size in zip(lengths, strides, sizes):
        centres = torch.arange(length, dtype=torch.float32, device=device) * stride + stride / 2
        half = (size - 1) / 2
        anchors.append(torch.stack([centres - half, centres + half], dim=-1))
    return anchors
