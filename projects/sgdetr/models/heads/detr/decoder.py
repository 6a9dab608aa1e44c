"""Conditional-DETR span decoder with iterative reference refinement and an IoU head."""
from typing import Optional, Tuple

from mmcv.cnn.bricks import DropPath
import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ...layers import (MLP, FeedForward, ProjectionFreeAttention, clones, inverse_sigmoid,
                       sine_span_embedding)


def concat_heads(content: Tensor, position: Tensor, num_heads: int) -> Tensor:
    """(B, T, H) content and position -> (B, T, 2H), the two halves of every head."""
    shape = content.shape[:-1] + (num_heads, -1)
    return torch.cat([content.view(shape), position.view(shape)], -1).flatten(-2)


class ConditionalDecoderLayer(nn.Module):
    """Self-attention among the queries, cross-attention to the clips, FFN (post-norm).

    Cross-attention keys are, per head, [content; position] of the clips and
    queries are [content; conditional spatial query]: content and position
    are matched separately (Conditional DETR). As released, the self-attention
    key position re-projects the already projected query position.

    Args:
        embed_dims: H.  num_heads: heads.  dropout: attention / FFN dropout.
        drop_path: stochastic depth.
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8, dropout: float = 0.1,
                 drop_path: float = 0.15):
        super().__init__()
        linear = lambda: nn.Linear(embed_dims, embed_dims)  # noqa: E731
        self.num_heads = num_heads
        self.sa_query_content, self.sa_query_pos = linear(), linear()
        self.sa_key_content, self.sa_key_pos, self.sa_value = linear(), linear(), linear()
        self.self_attn = ProjectionFreeAttention(embed_dims, num_heads, dropout=dropout)
        self.ca_query_content, self.ca_query_pos = linear(), linear()
        self.ca_key_content, self.ca_key_pos, self.ca_value = linear(), linear(), linear()
        self.cross_attn = ProjectionFreeAttention(2 * embed_dims, num_heads,
                                                  value_dims=embed_dims, dropout=dropout)
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)
        self.ffn = FeedForward(embed_dims, dropout=dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(embed_dims) for _ in range(3))
        self.drop_path = DropPath(drop_path)

    def forward(self, query: Tensor, query_pos: Tensor, query_sine: Tensor,
                query_valid: Tensor, memory: Tensor, memory_pos: Tensor,
                memory_mask: Tensor, self_attn_mask: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            query, query_pos, query_sine: (B, Q, H); query_valid: (B, Q) bool.
            memory, memory_pos: (B, L, H); memory_mask: (B, L) bool.
            self_attn_mask: (Q, Q) bool, True = query i may attend to query j.
        Returns:
            (B, Q, H).
        """
        pos = self.sa_query_pos(query_pos)
        attended = self.self_attn(self.sa_query_content(query) + pos,
                                  self.sa_key_content(query) + self.sa_key_pos(pos),
                                  self.sa_value(query), key_mask=query_valid,
                                  attn_mask=self_attn_mask)
        query = self.norm1(query + self.drop_path(attended))
        heads = self.num_heads
        attended = self.cross_attn(
            concat_heads(self.ca_query_content(query), self.ca_query_pos(query_sine), heads),
            concat_heads(self.ca_key_content(memory), self.ca_key_pos(memory_pos), heads),
            self.ca_value(memory), key_mask=memory_mask)
        query = self.norm2(query + self.drop_path(attended))
        return self.norm3(query + self.drop_path(self.ffn(query)))


@MODELS.register_module()
class ConditionalSpanDecoder(nn.Module):
    """Decoder layers that refine a (centre, width) reference per query.

    Each layer embeds its reference (sine), derives the self-attention
    position (``ref_point_head``) and the conditional spatial query
    (sine x ``query_scale(content)`` x width modulation
    ``sigmoid(ref_anchor_head(content)) / width``), runs the layer, then
    refines the reference (``ref_refiner``, in inverse-sigmoid space; detached
    before the next layer). The IoU head reads the raw layer output and the
    sine embedding of the refined reference (detached).

    Args:
        embed_dims: H.  num_layers: layers.  num_heads, dropout, drop_path: per layer.
        with_iou_head: predict the IoU of every query's span (paper §3.6).
        temperature: of the sine embeddings.
    """

    def __init__(self, embed_dims: int = 256, num_layers: int = 3, num_heads: int = 8,
                 dropout: float = 0.1, drop_path: float = 0.15, with_iou_head: bool = True,
                 temperature: float = 10000.):
        super().__init__()
        self.embed_dims, self.temperature = embed_dims, temperature
        self.layers = clones(ConditionalDecoderLayer(embed_dims, num_heads, dropout, drop_path),
                             num_layers)
        self.query_scale = MLP(embed_dims, embed_dims, embed_dims, 2)
        self.ref_point_head = MLP(embed_dims, embed_dims, embed_dims, 2)
        self.ref_anchor_head = MLP(embed_dims, embed_dims, 1, 2)
        self.ref_refiner = MLP(embed_dims, embed_dims, 2, 3, zero_last=True)
        self.iou_head = MLP(2 * embed_dims, embed_dims, 1, 3) if with_iou_head else None
        self.norm = nn.LayerNorm(embed_dims)

    def embed(self, spans: Tensor) -> Tensor:
        return sine_span_embedding(spans, self.embed_dims, self.temperature)

    def forward(self, query: Tensor, reference: Tensor, query_valid: Tensor, memory: Tensor,
                memory_pos: Tensor, memory_mask: Tensor,
                self_attn_mask: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """
        Args:
            query: (B, Q, H) content; reference: (B, Q, 2) inverse-sigmoid
                (centre, width); query_valid: (B, Q) bool.
            memory, memory_pos: (B, L, H); memory_mask: (B, L) bool.
            self_attn_mask: (Q, Q) bool, True = allowed.
        Returns:
            ``hidden`` (D, B, Q, H) normed outputs of every layer,
            ``references`` (D, B, Q, 2) the reference each layer's prediction
            refines (gradients flow through the refined ones), ``iou_logits``
            (D, B, Q) or None.
        """
        ref = reference.sigmoid()
        predicted_from = ref
        hidden, references, iou_logits = [], [], []
        for layer in self.layers:
            sine = self.embed(ref)
            query_pos = self.ref_point_head(sine)
            modulation = self.ref_anchor_head(query).sigmoid() / ref[..., 1:]
            query_sine = sine * self.query_scale(query) * modulation
            query = layer(query, query_pos, query_sine, query_valid, memory, memory_pos,
                          memory_mask, self_attn_mask)
            refined = (self.ref_refiner(query) + inverse_sigmoid(ref)).sigmoid()
            if self.iou_head is not None:
                iou_input = torch.cat([query, self.embed(refined).detach()], -1)
                iou_logits.append(self.iou_head(iou_input)[..., 0])
            hidden.append(self.norm(query))
            references.append(predicted_from)
            predicted_from, ref = refined, refined.detach()
        return (torch.stack(hidden), torch.stack(references),
                torch.stack(iou_logits) if iou_logits else None)
