"""The DETR span head of SG-DETR: query selection, conditional decoder, set losses."""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS, TASK_UTILS
from sgdetr.structures import span_cxw_to_xx
from ...layers import MLP, inverse_sigmoid
from ..query_groups import AnchorSamples, QueryGroup, block_diagonal_mask
from .query_selection import QuerySelection
from .set_losses import group_losses, matched_set_losses

DEFAULT_MATCHER = dict(
    type='SpanHungarianMatcher',
    match_costs=[dict(type='ProbabilityCost', weight=4.0), dict(type='SpanL1Cost', weight=10.0),
                 dict(type='SpanIoUCost', iou_mode='giou', weight=1.0)],
    iou_cost=dict(type='PredictedIoUCost', weight=1.0))
#: weights of the terms of every decoder layer (encoder proposals and
#: query groups scale them by their own factor)
DEFAULT_LOSS_WEIGHTS = dict(loss_label=5.0, loss_span=10.0, loss_giou=1.0, loss_iou=1.0)


@dataclass
class DETROutput:
    """Every decoder layer's predictions (D layers, Q matching queries).

    Attributes:
        selection: the query selector's output (the encoder loss reads it; its
            ``valid`` (B, Q) marks the selected slots, :attr:`valid`).
        cls_logits: (D, B, Q).  spans: (D, B, Q, 2) normalised (centre, width).
        iou_logits: (D, B, Q), or None without the IoU head.
        groups: per query group, ``(group, cls_logits (D, B, G), spans (D, B, G, 2))``.
    """
    selection: QuerySelection
    cls_logits: Tensor
    spans: Tensor
    iou_logits: Optional[Tensor]
    groups: List[Tuple[QueryGroup, Tensor, Tensor]]

    @property
    def valid(self) -> Tensor:
        """(B, Q) bool: the slots the selector filled."""
        return self.selection.valid


@dataclass
class DETRPredictions:
    """The last layer's predictions: ``spans`` (B, Q, 2) normalised (centre, width),
    ``probs`` (B, Q), ``ious`` (B, Q) (the probabilities again without the IoU
    head) and ``valid`` (B, Q) bool."""
    spans: Tensor
    probs: Tensor
    ious: Tensor
    valid: Tensor

    def cpu(self) -> 'DETRPredictions':
        """On the CPU, in float32 (the windows are written from there)."""
        return DETRPredictions(self.spans.float().cpu(), self.probs.float().cpu(),
                               self.ious.float().cpu(), self.valid.cpu())


@MODELS.register_module()
class SpanDETRHead(nn.Module):
    """One-to-one span detector over the detection memory.

    Data path: :class:`MultiLevelQuerySelector` picks Q queries over the
    pyramid; :class:`ConditionalSpanDecoder` refines them against the memory;
    every layer's output gives a foreground logit (``cls_head``), a span
    (``span_head``, an offset to the layer's reference) and, with the IoU
    head, an IoU logit. The collaborative query group (ATSS positives) runs
    through the same decoder in training, attending only to itself.

    Args:
        embed_dims: H.  num_queries: Q.  num_decoder_layers: D.
        num_heads, dropout, drop_path: of the decoder layers.
        prior_prob: initial foreground probability.
        with_iou_head: the localisation-confidence head (paper §3.6); without
            it queries are matched and scored by their class probability.
        query_selector: config of the selector.
        collaborative: build ``collab_proj``, which maps the pyramid features
            of ATSS positives to content queries (:meth:`collaborative_group`).
        matcher: config of the Hungarian matcher.
        loss_weights: per-term weights, see :data:`DEFAULT_LOSS_WEIGHTS`.
        background_weight: BCE weight of unmatched queries.
        encoder_loss_weight: factor of the encoder-proposal losses.
    """

    def __init__(self, embed_dims: int = 256, num_queries: int = 25,
                 num_decoder_layers: int = 3, num_heads: int = 8, dropout: float = 0.1,
                 drop_path: float = 0.15, prior_prob: float = 0.35,
                 with_iou_head: bool = True,
                 query_selector: dict = dict(type='MultiLevelQuerySelector'),
                 collaborative: bool = True,
                 matcher: dict = DEFAULT_MATCHER,
                 loss_weights: Optional[Dict[str, float]] = None,
                 background_weight: float = 0.1, encoder_loss_weight: float = 0.5):
        super().__init__()
        self.num_queries = num_queries
        self.query_selector = MODELS.build(query_selector, default_args=dict(
            embed_dims=embed_dims, num_queries=num_queries, prior_prob=prior_prob))
        self.decoder = MODELS.build(dict(
            type='ConditionalSpanDecoder', embed_dims=embed_dims,
            num_layers=num_decoder_layers, num_heads=num_heads, dropout=dropout,
            drop_path=drop_path, with_iou_head=with_iou_head))
        self.cls_head = nn.Linear(embed_dims, 1)
        nn.init.normal_(self.cls_head.weight, std=0.01)
        nn.init.constant_(self.cls_head.bias, math.log(prior_prob / (1 - prior_prob)))
        self.span_head = MLP(embed_dims, embed_dims, 2, 3, zero_last=True)
        self.collab_proj = None
        if collaborative:
            self.collab_proj = nn.Sequential(nn.Linear(embed_dims, embed_dims),
                                             nn.LayerNorm(embed_dims))
            nn.init.normal_(self.collab_proj[0].weight, std=0.01)
        self.matcher = TASK_UTILS.build(matcher)
        self.loss_weights = {**DEFAULT_LOSS_WEIGHTS, **(loss_weights or {})}
        self.background_weight = background_weight
        self.encoder_loss_weight = encoder_loss_weight

    @property
    def with_iou_head(self) -> bool:
        return self.decoder.iou_head is not None

    @property
    def collaborative(self) -> bool:
        """Whether the head trains with the collaborative query group."""
        return self.collab_proj is not None

    def forward(self, memory: Tensor, memory_mask: Tensor, memory_pos: Tensor,
                levels: List[Tensor], level_masks: List[Tensor],
                groups: Sequence[QueryGroup] = ()) -> DETROutput:
        """Decode the selected queries (and any query groups).

        Args:
            memory, memory_pos: (B, L, H); memory_mask: (B, L) bool.
            levels, level_masks: the pyramid, per level (B, L_k, H) / (B, L_k).
            groups: query groups decoded along (training).
        """
        selection = self.query_selector(levels, level_masks)
        sizes = [g.size for g in groups] + [self.num_queries]
        content = torch.cat([g.content for g in groups] + [selection.content], 1)
        reference = torch.cat([g.reference for g in groups] + [selection.reference], 1)
        valid = torch.cat([g.valid for g in groups] + [selection.valid], 1)
        attn_mask = block_diagonal_mask(sizes, memory.device) if groups else None
        hidden, references, iou_logits = self.decoder(
            content, reference, valid, memory, memory_pos, memory_mask, attn_mask)
        cls_logits = self.cls_head(hidden)[..., 0]
        spans = (self.span_head(hidden) + inverse_sigmoid(references)).sigmoid()
        outputs, start = [], 0
        for group, size in zip(groups, sizes):
            part = slice(start, start + size)
            outputs.append((group, cls_logits[:, :, part], spans[:, :, part]))
            start += size
        return DETROutput(selection=selection, cls_logits=cls_logits[:, :, start:],
                          spans=spans[:, :, start:],
                          iou_logits=None if iou_logits is None else iou_logits[:, :, start:],
                          groups=outputs)

    def loss(self, out: DETROutput, gt_spans: List[Tensor]) -> Dict[str, Tensor]:
        """Losses of :meth:`forward`'s output.

        Args:
            gt_spans: B tensors (K_b, 2) normalised (centre, width).
        Returns:
            weighted losses: ``enc.*`` (encoder proposals), ``d{i}.*`` per
            decoder layer and ``{group}.d{i}.*`` per query group.
        """
        losses = {}
        sel = out.selection
        sets = [('enc', sel.cls_logits, sel.spans, sel.iou_logits, self.encoder_loss_weight)]
        for layer in range(out.cls_logits.shape[0]):
            iou = None if out.iou_logits is None else out.iou_logits[layer]
            sets.append((f'd{layer}', out.cls_logits[layer], out.spans[layer], iou, 1.0))
        if not self.with_iou_head:
            sets = [(name, logits, spans, None, factor) for name, logits, spans, _, factor in sets]
        # every set matched in one call: one device-to-host transfer per step
        num_sets = len(sets)
        with torch.no_grad():
            matched = self.matcher(
                torch.cat([s[1] for s in sets]), span_cxw_to_xx(torch.cat([s[2] for s in sets])),
                [span_cxw_to_xx(g) for g in gt_spans],
                iou_scores=None if sets[0][3] is None
                else torch.cat([s[3] for s in sets]).sigmoid(),
                valid=out.valid.repeat(num_sets, 1)).chunk(num_sets)
        for (name, logits, spans, iou, factor), gt_indices in zip(sets, matched):
            terms = matched_set_losses(logits, spans, iou, out.valid, gt_indices, gt_spans,
                                       self.background_weight)
            losses.update(self._weighted(name, terms, factor))
        for group, logits, spans in out.groups:
            for layer in range(logits.shape[0]):
                terms = group_losses(group, logits[layer], spans[layer])
                losses.update(self._weighted(f'{group.name}.d{layer}', terms, 1.0))
        return losses

    def _weighted(self, prefix: str, terms: Dict[str, Tensor], factor: float) -> Dict:
        return {f'{prefix}.{k}': v * self.loss_weights[k] * factor for k, v in terms.items()}

    def collaborative_group(self, samples: Optional[AnchorSamples]) -> Optional[QueryGroup]:
        """The ATSS head's anchors as queries: content ``collab_proj`` of their
        features, reference the anchor, target its GT (None: no group)."""
        if samples is None or self.collab_proj is None:
            return None
        return QueryGroup(name='collab', content=self.collab_proj(samples.features),
                          reference=inverse_sigmoid(samples.spans), valid=samples.valid,
                          labels=samples.labels, target_spans=samples.target_spans)

    @torch.no_grad()
    def predict(self, out: DETROutput) -> DETRPredictions:
        """The last decoder layer's predictions."""
        probs = out.cls_logits[-1].sigmoid()
        ious = probs if out.iou_logits is None else out.iou_logits[-1].sigmoid()
        return DETRPredictions(spans=out.spans[-1], probs=probs, ious=ious, valid=out.valid)
