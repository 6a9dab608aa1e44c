"""Multi-head attention over tokens that are already projected.

The released SG-DETR applies no query/key/value projections in its sentence
pooling, its text-to-video (SGCA) encoder and its decoder attentions: the
inputs are split into heads as they are, and only the output is projected.
Rows of the attention may be scaled (SGCA scales clip i by sigma(S_local_i)).
"""
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ProjectionFreeAttention(nn.Module):
    """``out_proj(weights * softmax(q k^T / sqrt(d_head)) v)`` with attention dropout.

    Args:
        embed_dims: size E of queries and keys (split into ``num_heads``).
        num_heads: heads.
        value_dims: size V of values and of the output (default E).
        dropout: dropout on the attention probabilities.
    """

    def __init__(self, embed_dims: int, num_heads: int = 8,
                 value_dims: Optional[int] = None, dropout: float = 0.1):
        super().__init__()
        value_dims = value_dims or embed_dims
        assert embed_dims % num_heads == 0 and value_dims % num_heads == 0
        self.embed_dims, self.value_dims = embed_dims, value_dims
        self.num_heads = num_heads
        self.dropout = dropout
        self.out_proj = nn.Linear(value_dims, value_dims)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_mask: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None,
                row_weights: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            query: (B, T, E).  key: (B, S, E).  value: (B, S, V).
            key_mask: (B, S) bool, True = a key that may be attended to.
            attn_mask: (T, S) or (B, T, S) bool, True = allowed pair.
            row_weights: (B, T) factors of each query's attention row.
        Returns:
            (B, T, V).
        """
        (batch, length, _), heads = query.shape, self.num_heads
        q = query.view(batch, length, heads, -1).transpose(1, 2)
        k = key.reshape(batch, key.shape[1], heads, -1).transpose(1, 2)
        v = value.reshape(batch, value.shape[1], heads, -1).transpose(1, 2)
        mask = None
        if key_mask is not None:
            mask = key_mask[:, None, None, :]
        if attn_mask is not None:
            pair = attn_mask if attn_mask.dim() == 3 else attn_mask[None]
            pair = pair[:, None]
            mask = pair if mask is None else mask & pair
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0)
        if row_weights is not None:
            # (w_i A_i) V = w_i (A_i V), and dropout commutes with the scaling.
            out = out * row_weights[:, None, :, None].to(out.dtype)
        out = out.transpose(1, 2).reshape(batch, length, self.value_dims)
        return self.out_proj(out)
