"""Extra decoder queries with known targets: the collaborative group of ATSS positives.

The ATSS head picks the anchors (:class:`AnchorSamples`); the DETR head turns them
into queries (:class:`QueryGroup`) with its own content projection and decodes
them along its matching queries in training. Neither head imports the other.
"""
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor


@dataclass
class AnchorSamples:
    """Anchors of a batch, each with its target (or none), padded per sample.

    Attributes:
        features: (B, G, H) pyramid features at the anchors.
        spans: (B, G, 2) the anchors, normalised (centre, width).
        valid: (B, G) bool; False marks padding.
        labels: (B, G) float, 1 for anchors with a target span, 0 for negatives.
        target_spans: (B, G, 2) normalised (centre, width) targets (read where
            ``labels`` is 1).
    """
    features: Tensor
    spans: Tensor
    valid: Tensor
    labels: Tensor
    target_spans: Tensor


@dataclass
class QueryGroup:
    """Decoder queries trained against fixed targets, without matching.

    The group attends only to itself and the matching queries never see it,
    so it changes no prediction; it exists during training only. Its losses:
    label BCE over the valid queries, L1 on start/end and GIoU on those with a
    target (as released for the collaborative queries).

    Attributes:
        name: prefixes the group's losses (``'collab'`` -> ``'collab.d0.loss_label'``).
        content: (B, G, H) content queries.
        reference: (B, G, 2) inverse-sigmoid (centre, width) references.
        valid, labels, target_spans: as :class:`AnchorSamples`.
        loss_weight: multiplies every loss of the group.
    """
    name: str
    content: Tensor
    reference: Tensor
    valid: Tensor
    labels: Tensor
    target_spans: Tensor
    loss_weight: float = 0.5

    @property
    def size(self) -> int:
        return self.content.shape[1]


def block_diagonal_mask(sizes: Sequence[int], device) -> Tensor:
    """(sum, sum) bool attention mask, True inside each block of ``sizes`` only."""
    group = torch.repeat_interleave(torch.arange(len(sizes), device=device),
                                    torch.as_tensor(sizes, device=device))
    return group[:, None] == group[None, :]
