"""Extra query groups for the DETR decoder.

The decoder runs its matching queries (one-to-one, Hungarian) and, during
training only, any number of extra groups whose queries each already know their
target: contrastive denoising groups built from noised GT spans, and the
positive anchors of an auxiliary head (collaborative training, Co-DETR).
Every group attends only to itself; the matching queries never see any group.
"""
from dataclasses import dataclass
from typing import Optional

from torch import Tensor


@dataclass
class QueryGroup:
    """Decoder queries trained against fixed targets, without matching.

    Attributes:
        name: used to prefix the group's losses (e.g. ``'atss'`` ->
            ``'atss.d0.loss_span'``).
        ref_spans: (B, G, 2) reference spans, normalised (centre, width) in
            [0, 1]. Not differentiated through (detached by the decoder).
        gt_indices: (B, G) long, index of the target GT span of each query in
            its sample's ``gt_spans``; -1 means background (classification
            target 0, no regression loss).
        valid: (B, G) bool; False marks padding (no attention, no loss).
        content: optional (B, G, H) content queries; None lets the decoder
            use its own learned content embedding.
        loss_weight: multiplies every loss of the group.
    """
    name: str
    ref_spans: Tensor
    gt_indices: Tensor
    valid: Tensor
    content: Optional[Tensor] = None
    loss_weight: float = 1.0
