"""1D (centre, log-width) delta coder for spans, with the legacy +1 widths."""
import math
from typing import Sequence

import torch
from mmdet.models.task_modules.coders import LegacyDeltaXYWHBBoxCoder
from torch import Tensor

from sgdetr.registry import TASK_UTILS
from sgdetr.structures import drop_height, lift_spans


@TASK_UTILS.register_module()
class SpanDeltaCoder:
    """Encodes a target span relative to an anchor span, and back.

    With widths ``w = end - start + 1`` (the Detectron / MMDetection v1
    convention the released ATSS head uses, so spans are in units such as
    clips, not [0, 1]): ``dc = (c_t - c_a) / w_a`` and ``dw = log(w_t / w_a)``,
    normalised as ``(d - mean) / std``. Encoding is MMDetection's
    ``LegacyDeltaXYWHBBoxCoder`` on spans lifted to unit-height boxes (their
    y deltas are 0). Decoding is the exact inverse, ``start = c - (w - 1) / 2``,
    ``end = c + (w - 1) / 2`` with ``dw <= log(1 / width_ratio_clip)``, as
    released: MMDetection's legacy decoder leaves out the half-unit and also
    bounds ``dw`` from below.

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
        (mean_c, mean_w), (std_c, std_w) = target_means, target_stds
        self._box_coder = LegacyDeltaXYWHBBoxCoder(
            target_means=(mean_c, 0., mean_w, 0.), target_stds=(std_c, 1., std_w, 1.))
        self.means, self.stds = (mean_c, mean_w), (std_c, std_w)
        self.width_ratio_clip = width_ratio_clip

    def encode(self, anchors: Tensor, targets: Tensor) -> Tensor:
        """anchors (..., 2), targets (..., 2) start/end -> deltas (..., 2) (dc, dw)."""
        shape = anchors.shape
        box_deltas = self._box_coder.encode(
            lift_spans(anchors.reshape(-1, 2)), lift_spans(targets.reshape(-1, 2)))
        return drop_height(box_deltas).reshape(shape)

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
