"""Transformer encoder over the clips of a video (paper eq. 6: global context)."""
from torch import Tensor, nn

from sgdetr.registry import MODELS
from .feed_forward import FeedForwardBlock


@MODELS.register_module()
class VideoSelfAttentionLayer(nn.Module):
    """Post-norm DETR encoder layer: positional encoding on queries and keys only."""

    def __init__(self, embed_dims: int = 256, num_heads: int = 8,
                 feedforward_dims: int = 1024, dropout: float = 0.1):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout,
                                               batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(embed_dims)
        self.ffn = FeedForwardBlock(embed_dims, feedforward_dims, dropout)

    def forward(self, x: Tensor, pos: Tensor, padding_mask: Tensor) -> Tensor:
        q = k = x + pos
        attended = self.self_attn(q, k, x, key_padding_mask=padding_mask,
                                  need_weights=False)[0]
        return self.ffn(self.norm(x + self.dropout(attended)))


@MODELS.register_module()
class VideoContextEncoder(nn.Module):
    """A stack of masked self-attention layers over video tokens (paper: 3).

    Args:
        num_layers: number of layers (0 passes the tokens through).
        embed_dims, num_heads, feedforward_dims, dropout: layer sizes.
    """

    def __init__(self, num_layers: int = 3, embed_dims: int = 256,
                 num_heads: int = 8, feedforward_dims: int = 1024,
                 dropout: float = 0.1):
        super().__init__()
        self.layers = nn.ModuleList(
            VideoSelfAttentionLayer(embed_dims, num_heads, feedforward_dims, dropout)
            for _ in range(num_layers))

    def forward(self, video: Tensor, video_pos: Tensor, video_mask: Tensor) -> Tensor:
        """(B, L, H) tokens, (B, L, H) positions, (B, L) bool -> (B, L, H), zero at padding.

        Every sample must have at least one real clip.
        """
        for layer in self.layers:
            video = layer(video, video_pos, ~video_mask)
        return video * video_mask[..., None]
