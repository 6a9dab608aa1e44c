"""R@k / mIoU metric of Charades-STA and TACoS."""
from typing import List, Optional, Sequence

from ...registry import METRICS
from ..functional import RECALL_IOU_THRESHOLDS, RECALL_TOP_K, eval_moment_recall
from ..submission import MAX_WINDOWS
from .base_submission_metric import BaseSubmissionMetric


@METRICS.register_module()
class MomentRecallMetric(BaseSubmissionMetric):
    """``R{k}@{iou}`` for k in ``top_k`` and IoU in ``iou_thresholds``, and
    ``mIoU`` of the top-1 window, in percent (see
    :func:`sgdetr.evaluation.functional.eval_moment_recall`).

    Args:
        ann_file: the split's annotation file (``relevant_windows``).
        iou_thresholds: default (0.3, 0.5, 0.7).
        top_k: default (1, 5); ``max_windows`` must be at least max(top_k).
        submission_dir, split_name, max_windows, match_number, collect_device,
            prefix, collect_dir: see :class:`BaseSubmissionMetric`; files are
            ``{split_name}_submission.jsonl`` and ``..._metrics.json``.
    """

    def __init__(self,
                 ann_file: str,
                 iou_thresholds: Sequence[float] = RECALL_IOU_THRESHOLDS,
                 top_k: Sequence[int] = RECALL_TOP_K,
                 submission_dir: Optional[str] = None,
                 split_name: str = 'test',
                 max_windows: Optional[int] = MAX_WINDOWS,
                 match_number: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if max_windows is not None and max_windows < max(top_k):
            raise ValueError(f'max_windows={max_windows} < max(top_k)={max(top_k)}')
        super().__init__(ann_file, submission_dir, split_name, max_windows,
                         match_number, collect_device, prefix, collect_dir)
        self.iou_thresholds = tuple(iou_thresholds)
        self.top_k = tuple(top_k)

    GROUND_TRUTH = {'moment retrieval': ('relevant_windows',
                                         lambda a: bool(a.get('relevant_windows')))}

    def has_ground_truth(self) -> bool:
        return self.check_ground_truth()['moment retrieval']

    def metric_names(self) -> List[str]:
        if not self.has_ground_truth():
            return []
        return [f'R{k}@{t}' for k in self.top_k for t in self.iou_thresholds] + ['mIoU']

    def score(self, entries: List[dict], annotations: List[dict]):
        metrics = eval_moment_recall(entries, annotations, self.iou_thresholds,
                                     self.top_k, match_number=self.match_number)
        return metrics, dict(metrics)
