"""Match costs between predicted and ground-truth spans.

They share the interface of MMDetection's match costs
(``cost(pred_instances, gt_instances) -> (N, M)``), so a matcher mixes them
with MMDetection's class costs (e.g. ``mmdet.FocalLossCost``, which reads
``pred_instances.scores`` logits and ``gt_instances.labels``).

Fields read: ``spans`` (N, 2) / (M, 2) normalised start/end;
``iou_scores`` (N,) predicted IoU in [0, 1].
"""
from typing import Optional

from mmdet.models.task_modules.assigners.match_cost import BaseMatchCost
from mmengine.structures import InstanceData
from torch import Tensor

from sgdetr.registry import TASK_UTILS
from sgdetr.structures import span_giou, span_iou, span_xx_to_cxw


@TASK_UTILS.register_module()
class ProbabilityCost(BaseMatchCost):
    """Negative foreground probability ``-sigmoid(score)`` of each prediction.

    The released matcher's class cost (MMDetection's ``ClassificationCost``
    takes a softmax, which is constant for a single class).
    """

    def __call__(self, pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None, **kwargs) -> Tensor:
        cost = -pred_instances.scores[:, :1].sigmoid()
        return cost.expand(-1, len(gt_instances.spans)) * self.weight


@TASK_UTILS.register_module()
class SpanL1Cost(BaseMatchCost):
    """L1 distance between (centre, width) of predicted and GT spans."""

    def __call__(self, pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None, **kwargs) -> Tensor:
        pred = span_xx_to_cxw(pred_instances.spans)
        gt = span_xx_to_cxw(gt_instances.spans)
        return (pred[:, None] - gt[None]).abs().sum(-1) * self.weight


@TASK_UTILS.register_module()
class SpanIoUCost(BaseMatchCost):
    """Negative (generalised) IoU between predicted and GT spans.

    Args:
        iou_mode: 'giou' or 'iou'.
    """

    def __init__(self, iou_mode: str = 'giou', weight: float = 1.0) -> None:
        super().__init__(weight=weight)
        assert iou_mode in ('giou', 'iou')
        self.overlap = span_giou if iou_mode == 'giou' else span_iou

    def __call__(self, pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None, **kwargs) -> Tensor:
        overlaps = self.overlap(pred_instances.spans.float(),
                                gt_instances.spans.float())
        return -overlaps * self.weight


@TASK_UTILS.register_module()
class PredictedIoUCost(BaseMatchCost):
    """Negative predicted IoU (localisation confidence) of each prediction.

    The cost is the same for every GT of a prediction: it does not change
    which GT a query prefers, but, with more queries than GT spans, which
    queries get matched at all - queries that are confident about their own
    localisation win ties of class and span costs, so the IoU head and the
    matching agree on what a good query is.
    """

    def __call__(self, pred_instances: InstanceData,
                 gt_instances: InstanceData,
                 img_meta: Optional[dict] = None, **kwargs) -> Tensor:
        num_gts = len(gt_instances.spans)
        cost = -pred_instances.iou_scores[:, None]
        return cost.expand(-1, num_gts) * self.weight
