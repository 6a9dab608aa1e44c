"""ATSS assignment of anchor spans to GT spans, a whole batch at once."""
from typing import List

import torch
from torch import Tensor

from sgdetr.registry import TASK_UTILS
from sgdetr.structures.spans import span_iou


@TASK_UTILS.register_module()
class SpanATSSAssigner:
    """Adaptive training sample selection on spans, batched.

    For each GT: on every anchor level take the ``topk`` valid anchors whose
    centres are closest to the GT centre; among these candidates keep those
    whose IoU reaches mean + std (unbiased) of the candidates' IoUs and whose
    centre lies inside the GT (by more than 0.01 units, so use clip units, not
    [0, 1]); an anchor claimed by several GTs goes to the one it overlaps most
    (the first such GT on a tie).

    This is MMDetection's ``ATSSAssigner`` on spans, computed for many samples
    at once: MMDetection's assigner takes one image at a time and reads results
    back to the host several times per image, which would stall a GPU once per
    sample. Here the batch costs one read-back (the valid anchors per level of
    each sample) and one pass per distinct video length. Samples of one length
    are assigned on exactly their valid anchors, with the reductions and the
    ``topk`` MMDetection uses, so equidistant candidates are chosen as it chooses
    them and a sample is assigned the same in any batch. The tests check the
    assignments against MMDetection's assigner on lifted spans.

    Args:
        topk: candidates per level and GT.
    """

    def __init__(self, topk: int = 9) -> None:
        self.topk = topk

    def assign(self, anchors: List[Tensor], level_masks: List[Tensor], gt_spans: Tensor,
               gt_valid: Tensor) -> Tensor:
        """Assigns every sample's valid anchors.

        Args:
            anchors: per level (L_k, 2) start/end anchor spans, shared by the batch.
            level_masks: per level (B, L_k) bool, True for a sample's valid anchors
                (a prefix of the level, as padding leaves them).
            gt_spans: (B, K, 2) start/end GT spans, same units as ``anchors``.
            gt_valid: (B, K) bool, False for the padding of samples with fewer GTs.
        Returns:
            (B, S) long, S = sum L_k (levels concatenated): index into
            ``gt_spans[b]`` of the assigned GT, -1 for background and padding.
        """
        batch, device = gt_spans.shape[0], gt_spans.device
        assigned = torch.full((batch, sum(len(a) for a in anchors)), -1, dtype=torch.long,
                              device=device)
        if gt_spans.shape[1] == 0:
            return assigned
        counts = torch.stack([m.sum(1) for m in level_masks], 1).tolist()  # the read-back
        starts = [sum(len(a) for a in anchors[:k]) for k in range(len(anchors))]
        groups = {}
        for b, count in enumerate(counts):
            groups.setdefault(tuple(count), []).append(b)
        for count, rows in groups.items():
            rows = torch.tensor(rows, device=device)
            positions = torch.cat([torch.arange(s, s + n, device=device)
                                   for s, n in zip(starts, count)])
            assigned[rows[:, None], positions] = self._assign_equal_length(
                [a[:n] for a, n in zip(anchors, count)], gt_spans[rows], gt_valid[rows])
        return assigned

    def _assign_equal_length(self, anchors: List[Tensor], gt_spans: Tensor,
                             gt_valid: Tensor) -> Tensor:
        """ATSS of B samples whose valid anchors are all of ``anchors``.

        Args:
            anchors: per level (n_k, 2).  gt_spans: (B, K, 2).  gt_valid: (B, K).
        Returns:
            (B, N) long with N = sum n_k: the assigned GT or -1.
        """
        flat = torch.cat(anchors)  # (N, 2)
        centres = (flat[:, 0] + flat[:, 1]) / 2.0
        gt_centres = (gt_spans[..., 0] + gt_spans[..., 1]) / 2.0  # (B, K)
        distances = (centres[None, :, None] - gt_centres[:, None, :]).abs()  # (B, N, K)
        candidates, start = [], 0
        for level in anchors:  # closest first, per level
            end = start + len(level)
            if end > start:
                candidates.append(distances[:, start:end].topk(
                    min(self.topk, end - start), dim=1, largest=False).indices + start)
            start = end
        if not candidates:
            return gt_spans.new_full(distances.shape[:2], -1, dtype=torch.long)
        candidates = torch.cat(candidates, 1)  # (B, C, K) anchor indices
        ious = span_iou(flat[candidates], gt_spans[:, None], aligned=True)  # (B, C, K)
        threshold = ious.mean(1) + (ious.std(1) if ious.shape[1] > 1 else ious[:, 0] * torch.nan)
        cand_centres = centres[candidates]
        positive = (ious >= threshold[:, None]) & gt_valid[:, None] & (torch.minimum(
            cand_centres - gt_spans[:, None, :, 0], gt_spans[:, None, :, 1] - cand_centres) > 0.01)
        claimed = ious.new_full(distances.shape, float('-inf')).scatter(
            1, candidates, ious.masked_fill(~positive, float('-inf')))  # (B, N, K)
        best, gt_index = claimed.max(2)  # the first GT of a tie, as MMDetection
        return torch.where(best > float('-inf'), gt_index, -1)
