"""DINO-style DETR head for moment retrieval, with an IoU head (SG-DETR §3.5-3.7)."""
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule, bias_init_with_prob
from torch import Tensor, nn

from sgdetr.models.layers import QueryGroup
from sgdetr.registry import MODELS, TASK_UTILS
from sgdetr.structures import span_cxw_to_xx
from .attention_mask import group_attention_mask
from .criterion import SpanQueryCriterion
from .decoder import SpanDecoder
from .query_selection import SpanQuerySelector

MATCHER = dict(
    type='SpanHungarianMatcher',
    match_costs=[dict(type='mmdet.FocalLossCost', weight=5.0),
                 dict(type='SpanL1Cost', weight=10.0),
                 dict(type='SpanIoUCost', iou_mode='giou', weight=1.0)],
    iou_cost=dict(type='PredictedIoUCost', weight=1.0))


@MODELS.register_module()
class SpanDINOHead(BaseModule):
    """Detects moments in the encoder memory with a DETR decoder.

    * Two-stage query selection: the ``num_queries`` best clip proposals
      (:class:`SpanQuerySelector`) give the matching queries their reference
      spans; their content is learned ("mixed" query selection).
    * Training only: contrastive denoising groups and any extra
      :class:`QueryGroup` run in the same decoder, each group attending only
      to itself.
    * Each decoder layer refines the spans and predicts a class logit and,
      with ``with_iou_head``, the IoU of its span with its GT (§3.6).
    * Final score ``p ** score_alpha * iou ** (1 - score_alpha)`` (Eq. 10);
      ``score_alpha=0.5`` weighs class and localisation confidence equally.

    Extra query groups (e.g. positive anchors of an auxiliary head): give
    ``ref_spans`` (B, G, 2) as (centre, width) in [0, 1] - the first decoder
    layer refines them exactly like the matching references; ``gt_indices``
    the assigned GT per query (-1 background); ``valid`` False for padding.
    ``content=None`` uses the head's learned group content (shared with the
    denoising queries, the embedding of the single "moment" class); or pass
    (B, G, H) features, e.g. the memory at each anchor's clip,
    ``memory.gather(1, clip_index[..., None].expand(-1, -1, H))``.

    Args:
        hidden_dim, num_heads, ffn_dim, dropout, num_decoder_layers: decoder.
        num_queries: matching queries per sample (§4.4: 25).
        proposal_width: initial width of the clip proposals.
        denoising: :class:`SpanDenoisingGenerator` config, None to disable.
        with_iou_head: False (ablation): score = p, no IoU cost or loss.
        score_alpha: alpha of Eq. 10.
        matcher: Hungarian matcher config; its ``iou_cost`` is used only with
            the IoU head.
        loss_cls, loss_span_l1, loss_giou, loss_iou: loss configs
            (weights of §4.4: CE 5, L1 10, GIoU 1, IoU 1).
    """

    def __init__(self,
                 hidden_dim: int = 256,
                 num_queries: int = 25,
                 num_decoder_layers: int = 3,
                 num_heads: int = 8,
                 ffn_dim: int = 1024,
                 dropout: float = 0.1,
                 proposal_width: float = 0.05,
                 denoising: Optional[dict] = dict(
                     type='SpanDenoisingGenerator', num_groups=5, noise_scale=1.0),
                 with_iou_head: bool = True,
                 score_alpha: float = 0.5,
                 matcher: dict = MATCHER,
                 loss_cls: dict = dict(type='mmdet.FocalLoss', use_sigmoid=True,
                                       gamma=2.0, alpha=0.25, loss_weight=5.0),
                 loss_span_l1: dict = dict(type='mmdet.L1Loss', loss_weight=10.0),
                 loss_giou: dict = dict(type='mmdet.GIoULoss', loss_weight=1.0),
                 loss_iou: dict = dict(type='mmdet.CrossEntropyLoss',
                                       use_sigmoid=True, loss_weight=1.0),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_queries = num_queries
        self.num_layers = num_decoder_layers
        self.with_iou_head = with_iou_head
        self.score_alpha = score_alpha
        self.query_selector = SpanQuerySelector(hidden_dim, num_queries, proposal_width)
        self.query_content = nn.Embedding(num_queries, hidden_dim)
        # The learned content of query groups that bring none (denoising); not
        # created without denoising so that DDP finds no unused parameter.
        self.group_content = (nn.Embedding(1, hidden_dim)
                              if denoising is not None else None)
        self.decoder = SpanDecoder(num_decoder_layers, hidden_dim, num_heads,
                                   ffn_dim, dropout)
        self.cls_branches = nn.ModuleList(
            nn.Linear(hidden_dim, 1) for _ in range(num_decoder_layers))
        for branch in self.cls_branches:
            nn.init.constant_(branch.bias, bias_init_with_prob(0.01))
        self.iou_branches = nn.ModuleList(
            nn.Linear(hidden_dim, 1) for _ in range(num_decoder_layers)
        ) if with_iou_head else None
        self.denoising = TASK_UTILS.build(denoising) if denoising else None
        self.matcher = TASK_UTILS.build(matcher)
        self.criterion = SpanQueryCriterion(
            loss_cls, loss_span_l1, loss_giou, loss_iou if with_iou_head else None)

    def forward(self, memory: Tensor, memory_mask: Tensor, memory_pos: Tensor,
                groups: Sequence[QueryGroup] = ()) -> Tuple[dict, List[dict]]:
        """
        Args:
            memory, memory_pos: (B, L, H).  memory_mask: (B, L) bool, True = clip.
            groups: extra query groups (training), decoded alongside.
        Returns:
            enc: selected proposals, ``cls_logits`` (B, Q), ``spans`` (B, Q, 2)
                (centre, width), ``clip_indices`` (B, Q).
            outputs: one dict per query group, matching queries first, then
                ``groups`` in order: ``cls_logits`` (N, B, G), ``spans``
                (N, B, G, 2) (centre, width), ``iou_logits`` (N, B, G) or
                None, for each of the N decoder layers.
        """
        batch_size = memory.size(0)
        enc = self.query_selector(memory, memory_mask)
        contents = [self.query_content.weight.expand(batch_size, -1, -1)]
        contents += [g.content if g.content is not None else
                     self._group_content(g).expand(batch_size, g.valid.size(1), -1)
                     for g in groups]
        ref_spans = [enc['spans']] + [g.ref_spans.to(memory) for g in groups]
        # Repeated proposals (videos shorter than num_queries clips) are padding:
        # a copy would get contradictory targets and duplicate windows.
        valid = [enc['valid']] + [g.valid for g in groups]

        hidden, spans = self.decoder(
            torch.cat(contents, 1), torch.cat(ref_spans, 1),
            group_attention_mask(valid), memory, memory_pos, memory_mask)
        cls_logits = torch.stack([branch(h).squeeze(-1)
                                  for branch, h in zip(self.cls_branches, hidden)])
        iou_logits = torch.stack([branch(h).squeeze(-1) for branch, h in zip(
            self.iou_branches, hidden)]) if self.with_iou_head else None

        sizes = [v.size(1) for v in valid]
        per_group = zip(cls_logits.split(sizes, dim=2), spans.split(sizes, dim=2),
                        iou_logits.split(sizes, dim=2) if iou_logits is not None
                        else [None] * len(sizes))
        outputs = [dict(cls_logits=c, spans=s, iou_logits=i) for c, s, i in per_group]
        return enc, outputs

    def _group_content(self, group) -> Tensor:
        if self.group_content is None:
            raise ValueError(f'query group {group.name!r} brings no content and the '
                             'head learns none without denoising: pass `content`')
        return self.group_content.weight

    def loss(self, memory: Tensor, memory_mask: Tensor, memory_pos: Tensor,
             gt_spans: List[Tensor],
             extra_groups: Sequence[QueryGroup] = ()) -> Dict[str, Tensor]:
        """
        Args:
            memory, memory_pos: (B, L, H).  memory_mask: (B, L) bool, True = clip.
            gt_spans: B tensors (K_b, 2), GT start/end in [0, 1].
            extra_groups: query groups with known targets (e.g. ATSS anchors).
        Returns:
            ``enc.loss_*`` (proposals), ``d{l}.loss_*`` (matching queries,
            layer l), ``{name}.d{l}.loss_*`` per group name (``dn`` for
            denoising; groups sharing a name are averaged); ``loss_*`` in
            ``cls``, ``span_l1``, ``giou`` and, with the IoU head, ``iou``.
        """
        dn_groups = self.denoising(gt_spans) if self.denoising else []
        groups = list(dn_groups) + list(extra_groups)
        enc, outputs = self(memory, memory_mask, memory_pos, groups)
        matching = enc['valid']

        # Encoder proposals have no IoU head: matched on class and span only.
        enc_targets = self.matcher(
            _unmatchable(enc['cls_logits'], matching), span_cxw_to_xx(enc['spans']),
            gt_spans)
        losses = _prefixed('enc.', self.criterion(
            enc['cls_logits'], enc['spans'], None, enc_targets, matching, gt_spans))

        for layer in range(self.num_layers):
            cls_logits, spans, iou_logits = _at_layer(outputs[0], layer)
            targets = self.matcher(_unmatchable(cls_logits, matching),
                                   span_cxw_to_xx(spans), gt_spans,
                                   None if iou_logits is None else iou_logits.sigmoid())
            losses.update(_prefixed(f'd{layer}.', self.criterion(
                cls_logits, spans, iou_logits, targets, matching, gt_spans)))

        groups_per_name = Counter(g.name for g in groups)
        for group, output in zip(groups, outputs[1:]):
            weight = group.loss_weight / groups_per_name[group.name]
            for layer in range(self.num_layers):
                layer_losses = self.criterion(*_at_layer(output, layer),
                                              group.gt_indices, group.valid, gt_spans)
                for key, value in layer_losses.items():
                    key = f'{group.name}.d{layer}.{key}'
                    losses[key] = losses.get(key, 0) + weight * value
        if self.group_content is not None and not dn_groups:
            # A batch without GT builds no denoising group: keep the learned
            # group content in the graph so that DDP finds every parameter used.
            losses['d0.loss_cls'] = losses['d0.loss_cls'] + 0 * self.group_content.weight.sum()
        return losses

    @torch.no_grad()
    def predict(self, memory: Tensor, memory_mask: Tensor,
                memory_pos: Tensor) -> Tuple[Tensor, Tensor]:
        """
        Args:
            memory, memory_pos: (B, L, H).  memory_mask: (B, L) bool, True = clip.
        Returns:
            spans: (B, Q, 2) start/end in [0, 1] of the last decoder layer.
            scores: (B, Q), Eq. 10 (class probability alone without the IoU
                head); both sorted by descending score.
        """
        enc, outputs = self(memory, memory_mask, memory_pos)
        cls_logits, spans, iou_logits = _at_layer(outputs[0], self.num_layers - 1)
        scores = cls_logits.sigmoid()
        if iou_logits is not None:
            scores = (scores ** self.score_alpha *
                      iou_logits.sigmoid() ** (1 - self.score_alpha))
        scores = scores * enc['valid']  # repeated proposals rank last
        spans = span_cxw_to_xx(spans).clamp(0, 1)
        scores, order = scores.sort(dim=1, descending=True)
        return spans.gather(1, order[..., None].expand(-1, -1, 2)), scores


def _at_layer(output: dict, layer: int):
    """(cls_logits (B, G), spans (B, G, 2), iou_logits (B, G) or None) of a
    group's output at one decoder layer."""
    iou_logits = output['iou_logits']
    return (output['cls_logits'][layer], output['spans'][layer],
            None if iou_logits is None else iou_logits[layer])


def _unmatchable(cls_logits: Tensor, valid: Tensor) -> Tensor:
    """Logits that make the matcher's class cost of invalid queries prohibitive,
    so that the Hungarian assignment picks real ones."""
    return cls_logits.detach().masked_fill(~valid, -1e4)


def _prefixed(prefix: str, losses: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {prefix + k: v for k, v in losses.items()}
