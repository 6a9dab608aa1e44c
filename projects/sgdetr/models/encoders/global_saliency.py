"""Global saliency module (paper §3.4): saliency refined with video context."""
from typing import Optional, Tuple

from torch import Tensor, nn

from sgdetr.registry import MODELS
from .local_saliency import SALIENCY_PADDING_VALUE


@MODELS.register_module()
class GlobalSaliencyModule(nn.Module):
    """Amplify, re-score, amplify again.

    ``F_l = F + F * sigmoid(S_local)`` (saliency amplifier),
    ``S_global = S_local + Linear(F_l)``, ``F_g = F + F * sigmoid(S_global)``.
    The Linear starts at zero, so an untrained module keeps ``S_global =
    S_local``.

    Args:
        embed_dims: H.
        enabled: False (ablations (a)-(c)): no re-scoring, ``F_g = F_l`` and
            no global saliency.
    """

    def __init__(self, embed_dims: int = 256, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self.offset = nn.Linear(embed_dims, 1) if enabled else None
        if enabled:
            nn.init.zeros_(self.offset.weight)
            nn.init.zeros_(self.offset.bias)

    @staticmethod
    def amplify(features: Tensor, saliency: Tensor) -> Tensor:
        """``F + F * sigmoid(S)``: (B, L, H), (B, L) -> (B, L, H)."""
        return features + features * saliency.sigmoid()[..., None]

    def forward(self, context: Tensor, saliency_local: Tensor,
                video_mask: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """
        Args:
            context: (B, L, H) F; saliency_local: (B, L) logits; video_mask (B, L).
        Returns:
            memory (B, L, H) F_g and saliency_global (B, L) logits (None when
            disabled; padded clips hold ``SALIENCY_PADDING_VALUE``).
        """
        amplified = self.amplify(context, saliency_local)
        if not self.enabled:
            return amplified, None
        saliency = saliency_local + self.offset(amplified)[..., 0]
        saliency = saliency.masked_fill(~video_mask, SALIENCY_PADDING_VALUE)
        return self.amplify(context, saliency), saliency
