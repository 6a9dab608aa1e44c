"""Moment / non-moment clip classification by the moment token (``momcls`` as released)."""
from typing import Dict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS


@MODELS.register_module()
class MomentClipLoss(nn.Module):
    """BCE of ``<moment token, clip> / sqrt(H)`` against ``clip in the moment``.

    The clips are those re-encoded by the moment token encoder.

    Args:
        loss_weight: factor.
        average: ``'valid'``: the mean over the valid clips of the batch, so
            that a sample weighs the same whatever shares its batch;
            ``'batch'``: as released, the sum over the valid clips divided by
            every position of the batch (B x the longest video), padding
            included. The two agree when the videos have one length
            (QVHighlights); with the varied lengths of Charades-STA and TACoS
            ``'batch'`` weighs the loss 3-4x less, which the released
            recipes of those sets were tuned with.
    """

    def __init__(self, loss_weight: float = 3.0, average: str = 'valid'):
        super().__init__()
        if average not in ('valid', 'batch'):
            raise ValueError(f"average must be 'valid' or 'batch', got {average!r}")
        self.loss_weight = loss_weight
        self.average = average

    def forward(self, moment: Tensor, clips: Tensor, in_moment: Tensor,
                mask: Tensor) -> Dict[str, Tensor]:
        """moment (B, H), clips (B, L, H), in_moment / mask (B, L) bool -> ``loss_moment_clip``."""
        logits = (clips @ moment[..., None])[..., 0] * moment.shape[-1] ** -0.5
        if self.average == 'valid':
            loss = F.binary_cross_entropy_with_logits(logits[mask],
                                                      in_moment[mask].to(logits.dtype))
        else:
            per_clip = F.binary_cross_entropy_with_logits(logits, in_moment.to(logits.dtype),
                                                          reduction='none')
            loss = torch.where(mask, per_clip, torch.zeros_like(per_clip)).mean()
        return dict(loss_moment_clip=loss * self.loss_weight)
