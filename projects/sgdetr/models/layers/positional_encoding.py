"""Sine positional encoding of the clips of a (padded) video."""
import math

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS


@MODELS.register_module()
class SinePositionalEncoding1D(nn.Module):
    """DETR's sine encoding along the time axis.

    Positions count real clips only (cumulative sum of the mask), so a real
    clip gets the same encoding whatever padding follows it. With
    ``normalize`` the position is ``i / num_clips * scale``: the encoding says
    *where in the video* a clip is, which is what normalised spans need.
    Padded positions are zero.

    Args:
        num_feats: output size H (even).
        temperature: base of the geometric frequency ladder.
        normalize: divide positions by the number of real clips.
        scale: multiplies normalised positions (2*pi spans one period).
    """

    def __init__(self, num_feats: int = 256, temperature: float = 10000.,
                 normalize: bool = True, scale: float = 2 * math.pi,
                 eps: float = 1e-6):
        super().__init__()
        assert num_feats % 2 == 0, 'num_feats must be even'
        self.num_feats = num_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale
        self.eps = eps

    def forward(self, mask: Tensor) -> Tensor:
        """(B, L) bool, True = real clip -> (B, L, num_feats)."""
        position = mask.float().cumsum(dim=1)  # 1..n on real clips
        if self.normalize:
            position = position / (position[:, -1:] + self.eps) * self.scale
        dim_t = torch.arange(self.num_feats, dtype=torch.float32,
                             device=mask.device)
        dim_t = self.temperature**(2 * torch.div(dim_t, 2, rounding_mode='floor')
                                   / self.num_feats)
        angles = position[..., None] / dim_t  # (B, L, num_feats)
        pos = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()),
                          dim=-1).flatten(-2)
        return pos * mask[..., None]


def sine_span_embedding(spans: Tensor, embed_dims: int = 256,
                        temperature: float = 10000.) -> Tensor:
    """Sine embedding of (centre, width) spans, half of the channels each.

    Args:
        spans: (..., 2) normalised (centre, width).
    Returns:
        (..., embed_dims): [sine(centre); sine(width)], each ``embed_dims // 2``
        channels of interleaved sin/cos at geometric frequencies.
    """
    half = embed_dims // 2
    dim_t = torch.arange(half, dtype=torch.float32, device=spans.device)
    dim_t = temperature**(2 * torch.div(dim_t, 2, rounding_mode='floor') / half)
    angles = spans[..., None].float() * (2 * math.pi) / dim_t  # (..., 2, half)
    embed = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1)
    return embed.flatten(-2).flatten(-2).to(spans.dtype)
