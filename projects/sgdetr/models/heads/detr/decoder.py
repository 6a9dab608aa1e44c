"""Transformer decoder over video memory with iterative 1D span refinement.

Queries carry a reference span (centre, width). Following DAB-DETR, the
positional part of each query is computed from its current reference: a sine
embedding of (centre, width) through an MLP. It is added to the queries in
self-attention and in cross-attention, whose keys are the memory plus its
positional encoding; so a query looks at clips near its reference, and the
width in the embedding lets it adapt to long or short moments. After every
layer a regression branch refines the reference (Deformable-DETR); the
refined span is detached before it becomes the next layer's reference, so
each layer is trained to improve the span it is given.
"""
import math

import torch
from mmdet.models.layers.transformer.utils import MLP, inverse_sigmoid
from torch import Tensor, nn


def span_sine_embedding(spans: Tensor, num_feats: int,
                        temperature: float = 10000.) -> Tensor:
    """(..., 2) spans in [0, 1] -> (..., 2 * num_feats) sine/cosine features,
    ``num_feats`` per coordinate."""
    freq = torch.arange(num_feats, dtype=torch.float32, device=spans.device)
    freq = temperature ** (2 * torch.div(freq, 2, rounding_mode='floor') / num_feats)
    angles = spans.float()[..., None] * (2 * math.pi) / freq  # (..., 2, F)
    embed = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1)
    return embed.flatten(-3).to(spans.dtype)


class SpanDecoderLayer(nn.Module):
    """Post-norm layer: masked self-attention, cross-attention, FFN."""

    def __init__(self, hidden_dim: int = 256, num_heads: int = 8,
                 ffn_dim: int = 1024, dropout: float = 0.1) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.self_attn = nn.MultiheadAttention(hidden_dim, num_heads, dropout,
                                               batch_first=True)
        self.cross_attn = nn.MultiheadAttention(hidden_dim, num_heads, dropout,
                                                batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(hidden_dim, ffn_dim), nn.ReLU(inplace=True),
                                 nn.Dropout(dropout), nn.Linear(ffn_dim, hidden_dim))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_dim) for _ in range(3))
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: Tensor, query_pos: Tensor, self_attn_mask: Tensor,
                memory: Tensor, memory_pos: Tensor, memory_mask: Tensor) -> Tensor:
        """
        Args:
            query, query_pos: (B, T, H).
            self_attn_mask: (B, T, T) bool, True = query i may attend to j.
            memory, memory_pos: (B, L, H).  memory_mask: (B, L) bool, True = clip.
        Returns:
            (B, T, H).
        """
        # nn.MultiheadAttention takes masks of what to *ignore*, per head.
        ignore = ~self_attn_mask.repeat_interleave(self.num_heads, dim=0)
        q = query + query_pos
        attended = self.self_attn(q, q, query, attn_mask=ignore, need_weights=False)[0]
        query = self.norms[0](query + self.dropout(attended))
        attended = self.cross_attn(query + query_pos, memory + memory_pos, memory,
                                   key_padding_mask=~memory_mask, need_weights=False)[0]
        query = self.norms[1](query + self.dropout(attended))
        return self.norms[2](query + self.dropout(self.ffn(query)))


class SpanDecoder(nn.Module):
    """Decoder layers, each followed by a refinement of the reference spans."""

    def __init__(self, num_layers: int = 3, hidden_dim: int = 256,
                 num_heads: int = 8, ffn_dim: int = 1024,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SpanDecoderLayer(hidden_dim, num_heads, ffn_dim, dropout)
            for _ in range(num_layers))
        self.ref_pos_head = MLP(hidden_dim, hidden_dim, hidden_dim, 2)
        self.span_branches = nn.ModuleList(
            MLP(hidden_dim, hidden_dim, 2, 3) for _ in range(num_layers))
        for branch in self.span_branches:
            # Start from "no change": the first predictions are the references.
            nn.init.zeros_(branch.layers[-1].weight)
            nn.init.zeros_(branch.layers[-1].bias)

    def forward(self, query: Tensor, ref_spans: Tensor, self_attn_mask: Tensor,
                memory: Tensor, memory_pos: Tensor, memory_mask: Tensor):
        """
        Args:
            query: (B, T, H) content queries.
            ref_spans: (B, T, 2) initial references, (centre, width) in [0, 1].
            self_attn_mask: (B, T, T) bool, True = may attend.
            memory, memory_pos: (B, L, H).  memory_mask: (B, L) bool, True = clip.
        Returns:
            hidden: (num_layers, B, T, H) output of every layer.
            spans: (num_layers, B, T, 2) span (centre, width) of every layer.
        """
        ref_spans = ref_spans.detach()
        hidden, spans = [], []
        for layer, span_branch in zip(self.layers, self.span_branches):
            query_pos = self.ref_pos_head(
                span_sine_embedding(ref_spans, query.size(-1) // 2))
            query = layer(query, query_pos, self_attn_mask, memory, memory_pos,
                          memory_mask)
            refined = (span_branch(query) + inverse_sigmoid(ref_spans)).sigmoid()
            hidden.append(query)
            spans.append(refined)
            ref_spans = refined.detach()
        return torch.stack(hidden), torch.stack(spans)
