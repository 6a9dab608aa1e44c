"""ATSS positive anchors as an extra query group of the DETR decoder."""
from torch import Tensor

from sgdetr.models.layers.query_group import QueryGroup
from sgdetr.structures.spans import span_xx_to_cxw


def positive_anchor_group(memory: Tensor, anchors: Tensor, assigned: Tensor,
                          anchor_ious: Tensor, num_clips: Tensor,
                          max_queries: int, loss_weight: float = 1.0
                          ) -> QueryGroup:
    """Collects each sample's positive anchors into a padded ``QueryGroup``.

    A sample with more than ``max_queries`` positives keeps those overlapping
    their GT most, which bounds the decoder's extra work.

    Args:
        memory: (B, L, H) video features the anchors sit on.
        anchors: (A, L, 2) start/end anchors, clip units.
        assigned: (B, A, L) long, assigned GT index, -1 = background/padding.
        anchor_ious: (B, A, L) IoU of each anchor with its assigned GT.
        num_clips: (B,) real clips per sample (the [0, 1] unit).
        max_queries: cap on the positives kept per sample.
        loss_weight: the group's loss weight.
    Returns:
        ``QueryGroup(name='atss')`` with G = most positives kept in a sample:
        ``ref_spans`` (B, G, 2) anchor (centre, width) clipped to [0, 1],
        ``gt_indices`` (B, G), ``valid`` (B, G), ``content`` (B, G, H) =
        ``memory`` at each anchor's clip (gradients flow into ``memory``).
    """
    B, A, L = assigned.shape
    priority = anchor_ious.masked_fill(assigned < 0, -1.0).flatten(1)
    top_index = priority.topk(min(max_queries, A * L), dim=1).indices
    gt_indices = assigned.flatten(1).gather(1, top_index)
    valid = gt_indices >= 0
    num_groups = int(valid.sum(1).max()) if B else 0
    valid, top_index = valid[:, :num_groups], top_index[:, :num_groups]
    gt_indices = gt_indices[:, :num_groups]

    clip_index = top_index % L
    spans = anchors.flatten(0, 1)[top_index] / num_clips.view(B, 1, 1)
    ref_spans = span_xx_to_cxw(spans.clamp(0, 1))
    content = memory.gather(
        1, clip_index.unsqueeze(-1).expand(-1, -1, memory.size(-1)))
    # Padding rows may hold clamped, zero-width spans; give them a harmless
    # span so that no consumer meets log(0) even on masked rows.
    ref_spans = ref_spans.masked_fill(~valid.unsqueeze(-1), 0.5)
    return QueryGroup(name='atss', ref_spans=ref_spans, gt_indices=gt_indices,
                      valid=valid, content=content, loss_weight=loss_weight)
