"""Local saliency (paper §3.2): cosine of every clip with the sentence token."""
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS

#: Saliency value at padded clips: sigmoid() -> 0, softmax() -> 0, finite in fp16.
SALIENCY_PADDING_VALUE = -1e4


@MODELS.register_module()
class LocalSaliencyHead(nn.Module):
    """``S_local = alpha * cos(F_sent, F_v) + beta`` with learnable alpha, beta.

    alpha is kept positive (learned as ``log alpha``): a negative scale would
    invert the ranking of the clips. Saliency scores are logits; padded clips
    get :data:`SALIENCY_PADDING_VALUE`.

    Args:
        alpha_init: initial scale (cosines live in [-1, 1]; logits need range).
        beta_init: initial shift.
    """

    def __init__(self, alpha_init: float = 10.0, beta_init: float = 0.0):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha_init)))
        self.beta = nn.Parameter(torch.tensor(float(beta_init)))

    def forward(self, sentence: Tensor, clips: Tensor, video_mask: Tensor) -> Tensor:
        """(B, D) sentence, (B, L, D) clips, (B, L) bool -> (B, L) saliency logits."""
        cosine = torch.einsum('bd,bld->bl', F.normalize(sentence, dim=-1),
                              F.normalize(clips, dim=-1))
        saliency = self.log_alpha.exp() * cosine + self.beta
        return saliency.masked_fill(~video_mask, SALIENCY_PADDING_VALUE)
