"""Learned summary tokens of the sentence and of the moment, for the auxiliary losses."""
from typing import Tuple

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ..layers import SelfAttentionLayer, clones


class _TokenEncoder(nn.Module):
    """A learned token (and position) prepended to a sequence, then self-attention."""

    def __init__(self, embed_dims: int = 256, num_layers: int = 1, num_heads: int = 8,
                 dropout: float = 0.1, drop_path: float = 0.15):
        super().__init__()
        self.token = nn.Parameter(torch.randn(1, embed_dims))
        self.token_pos = nn.Parameter(torch.randn(1, embed_dims))
        self.layers = clones(SelfAttentionLayer(embed_dims, num_heads, dropout, drop_path),
                             num_layers)

    def encode(self, x: Tensor, pos: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
        """x, pos (B, T, H), mask (B, T) -> token (B, H), sequence (B, T, H)."""
        batch = x.shape[0]
        x = torch.cat([self.token.expand(batch, 1, -1), x], dim=1)
        pos = torch.cat([self.token_pos.expand(batch, 1, -1), pos], dim=1)
        mask = torch.cat([mask.new_ones(batch, 1), mask], dim=1)
        for layer in self.layers:
            x = layer(x, pos, mask)
        return x[:, 0], x[:, 1:]


@MODELS.register_module()
class SentenceTokenEncoder(_TokenEncoder):
    """Sentence token from the query's tokens (no text positions)."""

    def forward(self, text: Tensor, text_mask: Tensor) -> Tensor:
        """text (B, N, H), text_mask (B, N) bool -> (B, H)."""
        return self.encode(text, torch.zeros_like(text), text_mask)[0]


@MODELS.register_module()
class MomentTokenEncoder(_TokenEncoder):
    """Moment token from the clips inside the moment, non-moment token from the others.

    ``forward`` returns ``moment (B, H)``, ``non_moment (B, H)`` and the clips
    re-encoded by the pass they took part in, ``clips (B, L, H)`` (moment
    clips from the moment pass, the others from the non-moment pass).
    """

    def forward(self, video: Tensor, pos: Tensor, video_mask: Tensor,
                in_moment: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """video, pos (B, L, H); video_mask, in_moment (B, L) bool."""
        inside, outside = in_moment & video_mask, ~in_moment & video_mask
        moment, moment_clips = self.encode(video, pos, inside)
        non_moment, other_clips = self.encode(video, pos, outside)
        clips = torch.where(inside[..., None], moment_clips,
                            torch.where(outside[..., None], other_clips, 0))
        return moment, non_moment, clips
