"""Moment / non-moment clip classification by the moment token (``momcls`` as released)."""
from typing import Dict

from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS


@MODELS.register_module()
class MomentClipLoss(nn.Module):
    """BCE of ``<moment token, clip> / sqrt(H)`` against ``clip in the moment``.

    The clips are those re-encoded by the moment token encoder. Averaged over
    the valid clips of the batch.

    Args:
        loss_weight: factor.
    """

    def __init__(self, loss_weight: float = 3.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, moment: Tensor, clips: Tensor, in_moment: Tensor,
                mask: Tensor) -> Dict[str, Tensor]:
        """moment (B, H), clips (B, L, H), in_moment / mask (B, L) bool -> ``loss_moment_clip``."""
        logits = (clips @ moment[..., None])[..., 0] * moment.shape[-1] ** -0.5
        loss = F.binary_cross_entropy_with_logits(logits[mask], in_moment[mask].to(logits.dtype))
        return dict(loss_moment_clip=loss * self.loss_weight)
