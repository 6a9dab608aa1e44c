"""Post-norm self-attention layer of the released encoders."""
from typing import Optional

from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn

from .attention import ProjectedAttention
from .feed_forward import FeedForward


class SelfAttentionLayer(nn.Module):
    """``x = LN(x + DropPath(Attn(x + pos, x + pos, x)))``, ``x = LN(x + DropPath(FFN(x)))``.

    Positions are added to queries and keys only. The FFN is the PReLU
    :class:`FeedForward` (hidden ``4 H``). Used by the video context encoder
    and by the sentence / moment token encoders of the auxiliary losses.

    Args:
        embed_dims: H.  num_heads: attention heads.
        dropout: attention and FFN dropout.  drop_path: stochastic depth rate.
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8,
                 dropout: float = 0.1, drop_path: float = 0.1):
        super().__init__()
        self.self_attn = ProjectedAttention(embed_dims, num_heads, dropout=dropout)
        nn.init.xavier_uniform_(self.self_attn.out_proj.weight)
        self.ffn = FeedForward(embed_dims, dropout=dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, pos: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """x, pos: (B, L, H); mask: (B, L) bool, True = valid token -> (B, L, H)."""
        query = x + pos
        attended = self.self_attn(query, query, x, key_mask=mask)
        x = self.norm1(x + self.drop_path(attended))
        return self.norm2(x + self.drop_path(self.ffn(x)))
