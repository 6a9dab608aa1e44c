"""Moment / non-moment clip classification (CG-DETR's auxiliary BCE, paper §3.7)."""
from typing import Dict, Optional

from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS
from ..encoders.pooling_encoder import masked_mean


@MODELS.register_module()
class MomentClipLoss(nn.Module):
    """Every clip must tell whether it belongs to its video's GT moment.

    The per-clip logit is ``cos(moment prototype, clip) / T``, with the
    prototype the mean of the clips inside the GT windows of the same video;
    BCE with target = clip inside a GT window, mean over the real clips of the
    videos that have a moment. Computed on encoder features (the detector uses
    the context features F-hat: the clip content, before the saliency gain),
    so it groups moment clips together and apart from the rest of the video
    without extra parameters.

    Args:
        temperature: divides the cosines.
        loss_weight: multiplies the loss.
        loss_bce: a sigmoid loss on (N,) logits and (N,) targets.
    """

    def __init__(self, temperature: float = 0.1, loss_weight: float = 1.0,
                 loss_bce: Optional[dict] = None):
        super().__init__()
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.bce = MODELS.build(loss_bce or dict(
            type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))

    def forward(self, features: Tensor, moment_mask: Tensor,
                video_mask: Tensor) -> Dict[str, Tensor]:
        """Compute the loss.

        Args:
            features: (B, L, H) clip features.
            moment_mask: (B, L) bool, clip inside a GT window.
            video_mask: (B, L) bool, True = real clip.
        Returns:
            ``loss_moment_clip`` scalar.
        """
        in_moment = moment_mask.bool() & video_mask.bool()
        prototype = masked_mean(features, in_moment)  # (B, H)
        logits = F.cosine_similarity(prototype[:, None], features, dim=-1) / self.temperature
        counted = video_mask.bool() & in_moment.any(1, keepdim=True)
        loss = self.bce(logits[counted], in_moment[counted].to(logits.dtype),
                        avg_factor=counted.sum().clamp(min=1))
        return dict(loss_moment_clip=self.loss_weight * loss)
