"""Anchor spans of the ATSS head: several widths centred on every clip."""
from typing import Sequence

import torch
from torch import Tensor


def clip_anchors(num_clips: int, widths: Sequence[float],
                 device: torch.device = None) -> Tensor:
    """Anchors in clip units (clip i covers [i, i + 1)).

    Returns:
        (A, L, 2) start/end, A = len(widths), L = num_clips; anchor (a, i) is
        centred on clip i (centre i + 0.5) and ``widths[a]`` clips wide. The
        width-major layout makes each width one level of ATSS's per-level
        candidate selection.
    """
    centres = torch.arange(num_clips, device=device, dtype=torch.float32) + 0.5
    half_widths = 0.5 * torch.as_tensor(widths, device=device,
                                        dtype=torch.float32)
    return torch.stack((centres - half_widths[:, None],
                        centres + half_widths[:, None]), dim=-1)
