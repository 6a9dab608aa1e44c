"""Video context encoder (paper §3.3): self-attention over the clips."""
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ..layers import SelfAttentionLayer, clones


@MODELS.register_module()
class VideoContextEncoder(nn.Module):
    """``num_layers`` post-norm self-attention layers (PReLU FFN, DropPath).

    Args:
        embed_dims: H.  num_layers: layers.  num_heads: heads.
        dropout: attention / FFN dropout.  drop_path: stochastic depth.
    """

    def __init__(self, embed_dims: int = 256, num_layers: int = 3, num_heads: int = 8,
                 dropout: float = 0.1, drop_path: float = 0.15):
        super().__init__()
        self.layers = clones(SelfAttentionLayer(embed_dims, num_heads, dropout, drop_path),
                             num_layers)

    def forward(self, video: Tensor, pos: Tensor, mask: Tensor) -> Tensor:
        """video, pos (B, L, H); mask (B, L) bool, True = valid -> (B, L, H)."""
        for layer in self.layers:
            video = layer(video, pos, mask)
        return video
