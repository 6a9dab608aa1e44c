"""Sentence token of a query: a few rounds of attention pooling over its tokens."""
from torch import Tensor, nn

from sgdetr.registry import MODELS


def masked_mean(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean of the valid tokens: (B, N, D), (B, N) bool -> (B, D)."""
    weights = mask.to(tokens.dtype)
    return (tokens * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp(min=1)


@MODELS.register_module()
class AttentionPooling(nn.Module):
    """Re-weights the tokens by their relevance to the current sentence estimate.

    Per head, the weights are a masked softmax of ``q(sentence) . k(token_j)``;
    the output is the head-average of the weighted means of the *unprojected*
    tokens. Being a convex combination of the tokens it stays in their space:
    pooling raw InternVideo2 text tokens gives a vector that is still comparable
    with raw InternVideo2 clip features. (A value projection would add nothing:
    a linear map commutes with a weighted mean.)

    The query projection starts at zero, so every weight is uniform and the
    layer is exactly mean pooling until training moves it.

    Args:
        embed_dims: size D of the tokens.
        key_dims: size of the query/key projections (all heads together).
        num_heads: number of independent weightings, averaged.
    """

    def __init__(self, embed_dims: int, key_dims: int = 256, num_heads: int = 8):
        super().__init__()
        assert key_dims % num_heads == 0
        self.num_heads = num_heads
        self.query = nn.Linear(embed_dims, key_dims)
        self.key = nn.Linear(embed_dims, key_dims)
        nn.init.zeros_(self.query.weight)
        nn.init.zeros_(self.query.bias)

    def forward(self, sentence: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, D) sentence, (B, N, D) tokens, (B, N) bool mask -> (B, D)."""
        B, N, _ = tokens.shape
        q = self.query(sentence).view(B, self.num_heads, 1, -1)
        k = self.key(tokens).view(B, N, self.num_heads, -1).transpose(1, 2)
        logits = (q * k).sum(-1) / k.shape[-1]**0.5  # (B, heads, N)
        logits = logits.masked_fill(~mask[:, None], float('-inf'))
        weights = logits.softmax(-1).mean(1)  # (B, N), convex
        return (weights[..., None] * tokens).sum(1)


@MODELS.register_module()
class PoolingEncoder(nn.Module):
    """``num_layers`` rounds of :class:`AttentionPooling`, from the mean token.

    Each round pools the tokens with the previous estimate as the query, so
    the earlier rounds refine the query of the last one. Untrained, every
    round is mean pooling; the last query learns first, the earlier ones as
    soon as the later queries depend on their input. Every sample must have
    at least one valid token.

    Args:
        embed_dims: size D of the text tokens it pools (raw Dt, or hidden H).
        num_layers: rounds of attention pooling (paper: N = 2).
        key_dims, num_heads: see :class:`AttentionPooling`.
    """

    def __init__(self, embed_dims: int, num_layers: int = 2,
                 key_dims: int = 256, num_heads: int = 8):
        super().__init__()
        self.layers = nn.ModuleList(
            AttentionPooling(embed_dims, key_dims, num_heads)
            for _ in range(num_layers))

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, N, D) text tokens, (B, N) bool (True = valid) -> (B, D) sentence token."""
        sentence = masked_mean(tokens, mask)
        for layer in self.layers:
            sentence = layer(sentence, tokens, mask)
        return sentence
