"""Position-wise feed-forward block of the transformer layers."""
from torch import Tensor, nn

from sgdetr.registry import MODELS


@MODELS.register_module()
class FeedForwardBlock(nn.Module):
    """``norm(x + Dropout(Linear(Dropout(ReLU(Linear(x))))))`` (post-norm, DETR)."""

    def __init__(self, embed_dims: int = 256, feedforward_dims: int = 1024,
                 dropout: float = 0.1):
        super().__init__()
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, feedforward_dims), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(feedforward_dims, embed_dims),
            nn.Dropout(dropout))
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, H) -> (B, L, H)."""
        return self.norm(x + self.ffn(x))
