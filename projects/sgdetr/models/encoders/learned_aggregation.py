"""Sentence token by learned aggregation of the query's word tokens."""
import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ..layers import FeedForward, ProjectionFreeAttention, clones


class LearnedAggregationLayer(nn.Module):
    """One aggregation step (Touvron et al., 2021, without q/k/v projections).

    ``q = q + Attn(q, LN(tokens), LN(tokens))``, ``q = q + FFN(LN(q))``.
    """

    def __init__(self, embed_dims: int, num_heads: int = 8, dropout: float = 0.1):
        super().__init__()
        self.token_norm = nn.LayerNorm(embed_dims)
        self.attn = ProjectionFreeAttention(embed_dims, num_heads, dropout=dropout)
        self.ffn_norm = nn.LayerNorm(embed_dims)
        self.ffn = FeedForward(embed_dims, dropout=dropout)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, query: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """query (B, 1, H), tokens (B, N, H), mask (B, N) bool -> (B, 1, H)."""
        tokens = self.token_norm(tokens)
        query = query + self.attn(query, tokens, tokens, key_mask=mask)
        return query + self.ffn(self.ffn_norm(query))


@MODELS.register_module()
class LearnedAggregationPooling(nn.Module):
    """A learned query attends to the tokens ``num_layers`` times -> one vector.

    A LayerNorm (shared) separates the layers; the last output is not normed.

    Args:
        embed_dims: H.  num_layers: aggregation steps.
        num_heads: attention heads.  dropout: attention and FFN dropout.
        mean_init: start as (normed) mean pooling: zero query, identity output
            projections, zero FFN outputs (the released model starts random).
    """

    def __init__(self, embed_dims: int = 256, num_layers: int = 2, num_heads: int = 8,
                 dropout: float = 0.1, mean_init: bool = False):
        super().__init__()
        self.query = nn.Parameter(nn.init.trunc_normal_(torch.zeros(embed_dims), std=0.02))
        self.layers = clones(LearnedAggregationLayer(embed_dims, num_heads, dropout),
                             num_layers)
        self.norm = nn.LayerNorm(embed_dims)
        if mean_init:
            nn.init.zeros_(self.query)
            for layer in self.layers:
                nn.init.eye_(layer.attn.out_proj.weight)
                nn.init.zeros_(layer.ffn.layers[-1].weight)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """tokens (B, N, H), mask (B, N) bool, True = valid -> (B, H)."""
        query = self.query.expand(tokens.shape[0], 1, -1)
        for i, layer in enumerate(self.layers):
            query = layer(query, tokens, mask)
            if i < len(self.layers) - 1:
                query = self.norm(query)
        return query[:, 0]

