"""Global saliency module (paper §3.4): saliency refined with video context."""
from typing import Tuple

from torch import Tensor, nn

from sgdetr.registry import MODELS
from .local_saliency import SALIENCY_PADDING_VALUE


@MODELS.register_module()
class GlobalSaliencyModule(nn.Module):
    """Amplify, re-score, amplify again.

    ``F_l = F + F * sigmoid(S_local)`` (saliency amplifier),
    ``S_global = S_local + Linear(F_l)``, ``F_g = F + F * sigmoid(S_global)``.
    The Linear starts at zero, so an untrained module keeps ``S_global =
    S_local``: the local scores (already meaningful with aligned features) are
    refined, not replaced by noise.

    Args:
        embed_dims: hidden size H.
        enabled: False (ablations (a)-(c)) gives ``S_global = S_local`` and
            ``F_g = F``, or ``F + F * sigmoid(S_local)`` with
            ``amplify_when_disabled``; the module then has no parameters in use.
    """

    def __init__(self, embed_dims: int = 256, enabled: bool = True,
                 amplify_when_disabled: bool = False):
        super().__init__()
        self.enabled = enabled
        self.amplify_when_disabled = amplify_when_disabled
        self.offset = nn.Linear(embed_dims, 1) if enabled else None
        if enabled:
            nn.init.zeros_(self.offset.weight)
            nn.init.zeros_(self.offset.bias)

    @staticmethod
    def amplify(features: Tensor, saliency: Tensor) -> Tensor:
        """(B, L, H), (B, L) -> (B, L, H): salient clips up to twice as loud."""
        return features + features * saliency.sigmoid()[..., None]

    def forward(self, features: Tensor, saliency_local: Tensor,
                video_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Refine the saliency and amplify the features.

        Args:
            features: (B, L, H) context features F-hat.
            saliency_local: (B, L) logits.
            video_mask: (B, L) bool, True = real clip.
        Returns:
            F_g (B, L, H) (zero at padded clips) and S_global (B, L) logits
            (:data:`SALIENCY_PADDING_VALUE` at padded clips).
        """
        if not self.enabled:
            out = self.amplify(features, saliency_local) if self.amplify_when_disabled \
                else features
            return out * video_mask[..., None], saliency_local
        offset = self.offset(self.amplify(features, saliency_local)).squeeze(-1)
        saliency_global = (saliency_local + offset).masked_fill(
            ~video_mask, SALIENCY_PADDING_VALUE)
        amplified = self.amplify(features, saliency_global) * video_mask[..., None]
        return amplified, saliency_global
