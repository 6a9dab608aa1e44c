"""Training targets of the ATSS head: assignment, matched GT, centerness."""
from typing import List

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from sgdetr.models.task_modules.span_atss_assigner import SpanATSSAssigner


def matched_gt_spans(gt_spans: List[Tensor], assigned: Tensor) -> Tensor:
    """The GT span assigned to every anchor.

    Args:
        gt_spans: list of B (K_b, 2).  assigned: (B, A, L) long, -1 = none.
    Returns:
        (B, A, L, 2); rows of unassigned anchors hold an arbitrary span.
    """
    B = assigned.size(0)
    padded = pad_sequence([spans.reshape(-1, 2) for spans in gt_spans],
                          batch_first=True)
    if padded.size(1) == 0:  # no GT in the whole batch: gather needs a row
        padded = padded.new_zeros(B, 1, 2)
    index = assigned.clamp(min=0).view(B, -1, 1).expand(-1, -1, 2)
    return padded.gather(1, index).view(*assigned.shape, 2)


def assign_anchors(assigner: SpanATSSAssigner, anchors: Tensor,
                   clip_mask: Tensor, gt_spans: List[Tensor]) -> Tensor:
    """ATSS assignment of every sample's real-clip anchors.

    Anchors on padded clips take no part: they are neither candidates nor
    counted in the per-level top-k, and stay background.

    Args:
        anchors: (A, L, 2) start/end anchors, clip units, width-major.
        clip_mask: (B, L) bool, True = real clip.
        gt_spans: list of B (K_b, 2) start/end GT spans, clip units.
    Returns:
        (B, A, L) long: index of the assigned GT in ``gt_spans[b]``, -1 for
        background and padding.
    """
    num_widths, num_clips = anchors.shape[:2]
    assigned = anchors.new_full((len(gt_spans), num_widths, num_clips), -1,
                                dtype=torch.long)
    # MMDetection's assigner is per image: one call per sample (measured in
    # the tests: a few ms for a batch of 32).
    for b, spans in enumerate(gt_spans):
        real_clips = clip_mask[b].nonzero().squeeze(1)
        if len(spans) == 0 or len(real_clips) == 0:
            continue
        sample_anchors = anchors[:, real_clips].reshape(-1, 2)
        gt_index = assigner.assign(sample_anchors,
                                   [len(real_clips)] * num_widths, spans)
        assigned[b, :, real_clips] = gt_index.view(num_widths, -1)
    return assigned


def centerness_target(anchors: Tensor, gt_spans: Tensor) -> Tensor:
    """sqrt(min(l, r) / max(l, r)), l / r = distance from the anchor centre to
    the GT start / end: ATSS's centerness of the unit-height lifted boxes
    (their vertical ratio is 1). Anchors (..., 2), GT (..., 2) -> (...,).
    Meant for positives, whose centres lie inside their GT."""
    centres = anchors.mean(-1)
    left = centres - gt_spans[..., 0]
    right = gt_spans[..., 1] - centres
    ratio = torch.minimum(left, right) / torch.maximum(left, right)
    return ratio.clamp(min=0).sqrt()
