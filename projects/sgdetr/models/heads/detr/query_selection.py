"""Two-stage query selection over every position of the feature pyramid."""
import math
from dataclasses import dataclass
from typing import List, Sequence

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ...layers import MLP, inverse_sigmoid


@dataclass
class QuerySelection:
    """The selected queries and the encoder predictions of the encoder loss.

    Attributes:
        valid: (B, Q) bool; False for slots that found no valid proposal
            (short videos): they take no part in anything.
        content: (B, Q, H) detached content queries.
        reference: (B, Q, 2) detached inverse-sigmoid (centre, width).
        spans: (B, Q, 2) normalised (centre, width).
        cls_logits, iou_logits: (B, Q).
    """
    valid: Tensor
    content: Tensor
    reference: Tensor
    spans: Tensor
    cls_logits: Tensor
    iou_logits: Tensor


@MODELS.register_module()
class MultiLevelQuerySelector(nn.Module):
    """Scores a proposal at every pyramid position and keeps the best ``num_queries``.

    Position i of a level with n valid positions proposes the span centred at
    ``(i + 0.5) / n`` with that level's default width; a proposal is valid
    when its centre and width lie strictly inside ``(min_size, max_size)``.
    Each position's feature goes through ``Linear -> LayerNorm``; from it a
    class logit, an IoU logit and an offset to the proposal (in inverse-
    sigmoid space) are predicted. Queries are ranked by
    ``sqrt(sigmoid(cls) * sigmoid(iou))``; the selected features (detached)
    are the decoder's content queries and the refined proposals its
    references.

    Args:
        embed_dims: H.  num_queries: Q.
        level_widths: default proposal width of each pyramid level.
        prior_prob: initial foreground probability of the class logit (the IoU
            logit starts at twice its logit).
        min_size, max_size: validity bounds of proposal centres and widths.
    """

    def __init__(self, embed_dims: int = 256, num_queries: int = 25,
                 level_widths: Sequence[float] = (0.05, 0.2, 0.4, 0.85),
                 prior_prob: float = 0.35, min_size: float = 0.0125,
                 max_size: float = 0.9875):
        super().__init__()
        self.num_queries = num_queries
        self.level_widths = tuple(level_widths)
        self.min_size, self.max_size = min_size, max_size
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.norm = nn.LayerNorm(embed_dims)
        self.cls_head = nn.Linear(embed_dims, 1)
        self.iou_head = nn.Linear(embed_dims, 1)
        self.offset_head = MLP(embed_dims, embed_dims, 2, 3, zero_last=True)
        prior_logit = math.log(prior_prob / (1 - prior_prob))
        for head, bias in ((self.cls_head, prior_logit), (self.iou_head, 2 * prior_logit)):
            nn.init.normal_(head.weight, std=0.01)
            nn.init.constant_(head.bias, bias)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def proposals(self, level_masks: List[Tensor]):
        """Default proposals of every position.

        Args:
            level_masks: per level (B, L_k) bool, True = valid position.
        Returns:
            proposals (B, S, 2) normalised (centre, width), S = sum L_k, and
            valid (B, S) bool.
        """
        spans = []
        for mask, width in zip(level_masks, self.level_widths):
            count = mask.sum(1, keepdim=True).clamp(min=1).float()
            centres = (torch.arange(mask.shape[1], device=mask.device) + 0.5) / count
            spans.append(torch.stack([centres, torch.full_like(centres, width)], -1))
        spans, mask = torch.cat(spans, 1), torch.cat(level_masks, 1)
        inside = ((spans > self.min_size) & (spans < self.max_size)).all(-1)
        return spans, mask & inside

    def forward(self, levels: List[Tensor], level_masks: List[Tensor]) -> QuerySelection:
        """Select the queries: levels per level (B, L_k, H), level_masks (B, L_k) bool."""
        proposals, valid = self.proposals(level_masks)
        features = self.norm(self.proj(torch.cat(levels, 1).masked_fill(~valid[..., None], 0)))
        cls_logits, iou_logits = self.cls_head(features)[..., 0], self.iou_head(features)[..., 0]
        rank = (cls_logits.sigmoid() * iou_logits.sigmoid()).sqrt().masked_fill(
            ~valid, float('-inf'))
        coords = inverse_sigmoid(proposals).masked_fill(~valid[..., None], 0) + \
            self.offset_head(features)
        k = min(self.num_queries, rank.shape[1])
        index = rank.topk(k, dim=1).indices  # (B, k)
        if k < self.num_queries:  # fewer positions than queries: pad with invalid slots
            index = torch.cat([index, index[:, :1].expand(-1, self.num_queries - k)], 1)
        slot_valid = valid.gather(1, index)
        if k < self.num_queries:
            slot_valid[:, k:] = False
        take = lambda x: x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))  # noqa: E731
        coords = take(coords)
        return QuerySelection(valid=slot_valid, content=take(features).detach(),
                              reference=coords.detach(), spans=coords.sigmoid(),
                              cls_logits=cls_logits.gather(1, index),
                              iou_logits=iou_logits.gather(1, index))
