"""1D (centre, log-width) delta coder for spans."""
from typing import Sequence

import torch
from mmdet.models.task_modules import DeltaXYWHBBoxCoder
from torch import Tensor

from sgdetr.registry import TASK_UTILS
from sgdetr.structures import drop_height, lift_spans


@TASK_UTILS.register_module()
class SpanDeltaCoder:
    """Encodes a target span relative to an anchor span, and back.

    ``dc = (c_t - c_a) / w_a`` and ``dw = log(w_t / w_a)``, then normalised as
    ``(d - mean) / std``. Decoding clamps the denormalised ``dw`` to
    ``|log(width_ratio_clip)|`` so that a wild prediction cannot overflow
    ``exp``. This is MMDetection's ``DeltaXYWHBBoxCoder`` applied to spans lifted
    to unit-height boxes: the y deltas of such boxes are exactly 0 (same centre,
    same height), so the x deltas are the 1D ones, bitwise.

    Args:
        target_means: (mean_dc, mean_dw).
        target_stds: (std_dc, std_dw); the defaults are ATSS's x/w ones.
        width_ratio_clip: bound on the decoded width / anchor width ratio
            (and its inverse).
    """

    encode_size = 2

    def __init__(self,
                 target_means: Sequence[float] = (0., 0.),
                 target_stds: Sequence[float] = (0.1, 0.2),
                 width_ratio_clip: float = 16 / 1000) -> None:
        (mean_c, mean_w), (std_c, std_w) = target_means, target_stds
        # y-deltas are 0 with mean 0 / std 1, so they stay 0 when denormalised.
        self._box_coder = DeltaXYWHBBoxCoder(
            target_means=(mean_c, 0., mean_w, 0.),
            target_stds=(std_c, 1., std_w, 1.),
            clip_border=False)
        self.width_ratio_clip = width_ratio_clip

    def encode(self, anchors: Tensor, targets: Tensor) -> Tensor:
        """anchors (..., 2), targets (..., 2) start/end -> deltas (..., 2) (dc, dw)."""
        shape = anchors.shape
        box_deltas = self._box_coder.encode(
            lift_spans(anchors.reshape(-1, 2)),
            lift_spans(targets.reshape(-1, 2)))
        return drop_height(box_deltas).reshape(shape)

    def decode(self, anchors: Tensor, deltas: Tensor) -> Tensor:
        """anchors (..., 2) start/end, deltas (..., 2) -> spans (..., 2) start/end."""
        shape = deltas.shape
        anchors = anchors.expand(shape).reshape(-1, 2)
        delta_c, delta_w = deltas.reshape(-1, 2).unbind(-1)
        zeros = torch.zeros_like(delta_c)
        box_deltas = torch.stack((delta_c, zeros, delta_w, zeros), dim=-1)
        boxes = self._box_coder.decode(
            lift_spans(anchors), box_deltas,
            wh_ratio_clip=self.width_ratio_clip)
        return drop_height(boxes).reshape(shape)
