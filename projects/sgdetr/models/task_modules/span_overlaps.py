"""1D IoU calculator with MMDetection's IoU-calculator interface."""
from torch import Tensor

from sgdetr.registry import TASK_UTILS
from sgdetr.structures.spans import span_giou, span_iou
from sgdetr.structures import drop_height


@TASK_UTILS.register_module()
class SpanOverlaps1D:
    """Pairwise or aligned IoU / GIoU of spans.

    Accepts spans ``(..., 2)`` or unit-height lifted boxes ``(..., 4)`` (an
    extra score column, ``(..., 5)``, is ignored like MMDetection's
    ``BboxOverlaps2D`` does), so MMDetection's assigners can use it on lifted
    spans; only the x coordinates are read.
    """

    def __call__(self, bboxes1: Tensor, bboxes2: Tensor, mode: str = 'iou',
                 is_aligned: bool = False) -> Tensor:
        """bboxes1 (N, 2|4|5), bboxes2 (M, 2|4|5) -> (N, M), or (N,) if aligned."""
        spans1, spans2 = self._as_spans(bboxes1), self._as_spans(bboxes2)
        if mode == 'iou':
            return span_iou(spans1, spans2, aligned=is_aligned)
        if mode == 'giou':
            return span_giou(spans1, spans2, aligned=is_aligned)
        raise ValueError(f"mode must be 'iou' or 'giou', got {mode!r}")

    @staticmethod
    def _as_spans(boxes: Tensor) -> Tensor:
        if boxes.size(-1) == 2:
            return boxes
        if boxes.size(-1) in (4, 5):
            return drop_height(boxes)
        raise ValueError(f'last dim must be 2, 4 or 5, got {boxes.size(-1)}')

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
