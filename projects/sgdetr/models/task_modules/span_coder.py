"""1D (centre, log-width) delta decoder for spans, with the legacy +1 widths."""
import math
from typing import Sequence

import torch
from torch import Tensor

from sgdetr.registry import TASK_UTILS


@TASK_UTILS.register_module()
class SpanDeltaCoder:
    """Decodes the ATSS head's deltas relative to its anchor spans.

    With widths ``w = end - start + 1`` (the Detectron / MMDetection v1
    convention the released ATSS head uses, so spans are in units such as
    clips, not [0, 1]): ``dc = (c_t - c_a) / w_a`` and ``dw = log(w_t / w_a)``,
    normalised as ``(d - mean) / std`` (MMDetection's ``LegacyDeltaXYWHBBoxCoder``
    encoding on unit-height boxes). Decoding is its exact inverse,
    ``start = c - (w - 1) / 2``, ``end = c + (w - 1) / 2`` with
    ``dw <= log(1 / width_ratio_clip)``, as released: MMDetection's legacy
    decoder leaves out the half-unit and also bounds ``dw`` from below. The
    head's losses compare decoded spans, so nothing encodes.

    Args:
        target_means: (mean_dc, mean_dw).
        target_stds: (std_dc, std_dw); the released (0.1, 0.2), i.e. weights
            (10, 5).
        width_ratio_clip: bound on the decoded width / anchor width ratio
            (and its inverse).
    """

    encode_size = 2

    def __init__(self,
                 target_means: Sequence[float] = (0., 0.),
                 target_stds: Sequence[float] = (0.1, 0.2),
                 width_ratio_clip: float = 16 / 1000) -> None:
        self.means, self.stds = tuple(target_means), tuple(target_stds)
        self.width_ratio_clip = width_ratio_clip

    def decode(self, anchors: Tensor, deltas: Tensor) -> Tensor:
        """anchors (..., 2) start/end, deltas (..., 2) -> spans (..., 2) start/end."""
        anchors = anchors.to(deltas.dtype)
        means, stds = deltas.new_tensor(self.means), deltas.new_tensor(self.stds)
        delta_c, delta_w = (deltas * stds + means).unbind(-1)
        delta_w = delta_w.clamp(max=math.log(1 / self.width_ratio_clip))
        width = anchors[..., 1] - anchors[..., 0] + 1
        centre = (anchors[..., 0] + anchors[..., 1]) / 2 + delta_c * width
        half = (width * delta_w.exp() - 1) / 2
        return torch.stack([centre - half, centre + half], dim=-1)
