"""Cross-modal encoder (paper §3.3): video tokens absorb the text query."""
from typing import Optional

from torch import Tensor, nn

from sgdetr.registry import MODELS
from .feed_forward import FeedForwardBlock
from .saliency_guided_cross_attention import SaliencyGuidedCrossAttention


@MODELS.register_module()
class SaliencyGuidedCrossAttentionLayer(nn.Module):
    """Post-norm layer: ``x = norm(x + SGCA(x + pos, text)); x = FFN(x)``.

    A clip with low local saliency adds little text to itself, so its token
    stays close to its visual content.
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8,
                 feedforward_dims: int = 1024, dropout: float = 0.1,
                 saliency_guided: bool = True):
        super().__init__()
        self.cross_attn = SaliencyGuidedCrossAttention(
            embed_dims, num_heads, attn_drop=dropout, saliency_guided=saliency_guided)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(embed_dims)
        self.ffn = FeedForwardBlock(embed_dims, feedforward_dims, dropout)

    def forward(self, video: Tensor, video_pos: Tensor, text: Tensor,
                text_mask: Tensor, saliency: Optional[Tensor]) -> Tensor:
        attended = self.cross_attn(video + video_pos, text, text, text_mask, saliency)
        return self.ffn(self.norm(video + self.dropout(attended)))


@MODELS.register_module()
class SaliencyGuidedCrossAttentionEncoder(nn.Module):
    """A stack of :class:`SaliencyGuidedCrossAttentionLayer` (paper: 2 layers).

    Args:
        num_layers: number of layers.
        embed_dims, num_heads, feedforward_dims, dropout: layer sizes.
        saliency_guided: False gives plain cross attention (ablation (a)).
    """

    def __init__(self, num_layers: int = 2, embed_dims: int = 256,
                 num_heads: int = 8, feedforward_dims: int = 1024,
                 dropout: float = 0.1, saliency_guided: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            SaliencyGuidedCrossAttentionLayer(embed_dims, num_heads, feedforward_dims,
                                              dropout, saliency_guided)
            for _ in range(num_layers))

    def forward(self, video: Tensor, video_pos: Tensor, video_mask: Tensor,
                text: Tensor, text_mask: Tensor,
                saliency: Optional[Tensor] = None) -> Tensor:
        """Enrich video tokens with the text.

        Args:
            video, video_pos: (B, L, H) video tokens and their positional encoding.
            video_mask: (B, L) bool, True = real clip.
            text: (B, N, H) text tokens; text_mask: (B, N) bool, True = valid.
            saliency: (B, L) local saliency logits (None: plain cross attention).
        Returns:
            (B, L, H), zero at padded clips.
        """
        for layer in self.layers:
            video = layer(video, video_pos, text, text_mask, saliency)
        return video * video_mask[..., None]
