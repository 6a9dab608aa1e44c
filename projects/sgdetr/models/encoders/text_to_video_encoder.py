"""Text-to-video (SGCA) encoder: a stack of saliency-guided cross attention layers."""
from typing import Optional

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ..layers import clones


@MODELS.register_module()
class TextToVideoEncoder(nn.Module):
    """``num_layers`` x :class:`SaliencyGuidedCrossAttention` with a shared LayerNorm.

    As released, one LayerNorm is re-applied to the whole [video; text]
    sequence after every layer (so the next layer reads normed text keys) and
    once more after the last.

    Args:
        embed_dims: H.  num_layers: layers.
        layer: config of one layer (type :class:`SaliencyGuidedCrossAttention`
            unless it names another).
    """

    def __init__(self, embed_dims: int = 256, num_layers: int = 2,
                 layer: dict = dict(type='SaliencyGuidedCrossAttention')):
        super().__init__()
        layer = dict(layer)
        layer.setdefault('type', 'SaliencyGuidedCrossAttention')
        self.layers = clones(MODELS.build(layer, default_args=dict(embed_dims=embed_dims)),
                             num_layers)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, video: Tensor, pos: Tensor, text: Tensor, text_mask: Tensor,
                saliency: Optional[Tensor] = None) -> Tensor:
        """video/pos (B, L, H), text (B, N, H), text_mask (B, N), saliency (B, L) -> (B, L, H)."""
        length = video.shape[1]
        for layer in self.layers:
            video = layer(video, pos, text, text_mask, saliency)
            video, text = self.norm(torch.cat([video, text], dim=1)).split(
                [length, text.shape[1]], dim=1)
        return self.norm(video)
