"""ATSS assignment of anchor spans to GT spans (MMDetection's ATSSAssigner in 1D)."""
from typing import List

import torch
from mmdet.models.task_modules import ATSSAssigner
from mmengine.structures import InstanceData
from torch import Tensor

from sgdetr.registry import TASK_UTILS
from sgdetr.structures import lift_spans


@TASK_UTILS.register_module()
class SpanATSSAssigner:
    """Adaptive training sample selection on spans.

    For each GT: on every anchor level take the ``topk`` anchors whose centres
    are closest to the GT centre; among these candidates keep those whose IoU
    reaches mean + std (unbiased) of the candidates' IoUs and whose centre lies
    inside the GT (by more than 0.01 units, so use clip units, not [0, 1]); an
    anchor claimed by several GTs goes to the one it overlaps most.

    MMDetection's ``ATSSAssigner`` does the work on unit-height lifted spans
    (see ``sgdetr.structures.lift_spans``), for which 2D IoU and centre distances are the 1D
    ones exactly; IoUs come from the registered ``SpanOverlaps1D``.

    Args:
        topk: candidates per level and GT.
    """

    def __init__(self, topk: int = 9) -> None:
        self.topk = topk
        self._assigner = ATSSAssigner(
            topk=topk, iou_calculator=dict(type='sgdetr.SpanOverlaps1D'))

    def assign(self, anchors: Tensor, num_level_anchors: List[int],
               gt_spans: Tensor) -> Tensor:
        """Assigns one sample's anchors.

        Args:
            anchors: (N, 2) start/end anchor spans, level-major (the first
                ``num_level_anchors[0]`` anchors form level 0, ...).
            num_level_anchors: anchors per level, summing to N.
            gt_spans: (K, 2) start/end GT spans, same units as ``anchors``.
        Returns:
            (N,) long: index into ``gt_spans`` of the assigned GT, -1 for
            background.
        """
        priors = InstanceData(priors=lift_spans(anchors))
        gts = InstanceData(
            bboxes=lift_spans(gt_spans),
            labels=gt_spans.new_zeros(len(gt_spans), dtype=torch.long))
        result = self._assigner.assign(priors, num_level_anchors, gts)
        return result.gt_inds - 1  # mmdet: 0 = background, i + 1 = GT i
