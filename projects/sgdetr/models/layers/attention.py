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

from .cpu_fast_path import attention_with_packed_dropout


def attend(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,
           dropout_p: float = 0.0, training: bool = False, cpu_fast_path: bool = False) -> Tensor:
    """``dropout(softmax(q k^T / sqrt(d))) v`` per head: ``F.scaled_dot_product_attention``,
    or, with ``cpu_fast_path``, CPU tensors and dropout in training,
    :func:`.cpu_fast_path.attention_with_packed_dropout`.

    Args:
        q: (B, h, T, d).  k: (B, h, S, d).  v: (B, h, S, d_v).
        mask: broadcastable to (B, h, T, S), bool, True = allowed.
    Returns:
        (B, h, T, d_v).
    """
    dropout_p = dropout_p if training else 0.0
    if cpu_fast_path and dropout_p > 0.0 and q.device.type == 'cpu':
        return attention_with_packed_dropout(q, k, v, mask, dropout_p)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


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
        self.cpu_fast_path = False

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
        out = attend(q, k, v, mask, self.dropout, self.training, self.cpu_fast_path)
        if row_weights is not None:
            # (w_i A_i) V = w_i (A_i V), and dropout commutes with the scaling.
            out = out * row_weights[:, None, :, None].to(out.dtype)
        out = out.transpose(1, 2).reshape(batch, length, self.value_dims)
        return self.out_proj(out)


class ProjectedAttention(nn.Module):
    """Multi-head attention with input projections, parameters named as
    ``nn.MultiheadAttention``'s (``in_proj_weight``, ``in_proj_bias``,
    ``out_proj``), batch first, attention by :func:`attend`.

    Args:
        embed_dims: H.  num_heads: heads.  dropout: on the attention probabilities.
    """

    def __init__(self, embed_dims: int, num_heads: int = 8, dropout: float = 0.1):
        super().__init__()
        assert embed_dims % num_heads == 0
        self.num_heads, self.dropout = num_heads, dropout
        self.cpu_fast_path = False
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dims))
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_mask: Optional[Tensor] = None) -> Tensor:
        """query (B, T, H), key / value (B, S, H), key_mask (B, S) bool -> (B, T, H)."""
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        batch, heads = query.shape[0], self.num_heads

        def split(x):
            return x.view(batch, x.shape[1], heads, -1).transpose(1, 2)
        q = split(F.linear(query, w_q, b_q))
        k = split(F.linear(key, w_k, b_k))
        v = split(F.linear(value, w_v, b_v))
        mask = None if key_mask is None else key_mask[:, None, None, :]
        out = attend(q, k, v, mask, self.dropout, self.training, self.cpu_fast_path)
        return self.out_proj(out.transpose(1, 2).flatten(2))
