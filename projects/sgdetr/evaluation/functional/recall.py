"""Recall metrics of single-moment benchmarks (Charades-STA, TACoS):
R@k at IoU thresholds and the mean IoU of the top-1 window.

Conventions (the standard ones of these benchmarks):

* A query's predictions are ranked in the order given (the submission writer
  sorts them by decreasing score); R@k looks at the first k of them, fewer if
  fewer were predicted.  A query without predictions misses every threshold
  and has IoU 0.
* Both benchmarks annotate one window per query.  Should a query list
  several, a prediction counts as a hit when its IoU with *any* of them
  reaches the threshold, and its IoU for mIoU is the best one over them.
* IoU is intersection over union of the two windows (0 when the union is
  empty).
* Values are percentages with 2 decimals.
"""
from typing import Dict, List, Sequence

import numpy as np

from sgdetr.structures.spans import span_overlap

from ._array_utils import as_percent, pad_ragged
from ._qids import index_by_qid, shared_qids

RECALL_IOU_THRESHOLDS = (0.3, 0.5, 0.7)
RECALL_TOP_K = (1, 5)


def best_gt_iou(pred_windows: np.ndarray, gt_windows: np.ndarray,
                gt_valid: np.ndarray) -> np.ndarray:
    """IoU of every predicted window with its best-overlapping GT window.

    Args:
        pred_windows: (Q, P, 2) [start, end].
        gt_windows: (Q, G, 2).  gt_valid: (Q, G) bool.

    Returns:
        (Q, P) best IoU over the query's valid GT windows (0 if it has none).
    """
    inter, union = span_overlap(pred_windows, gt_windows)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return np.where(gt_valid[:, None, :], iou, 0.0).max(axis=2, initial=0.0)


def eval_moment_recall(submission: List[dict], ground_truth: List[dict],
                       iou_thresholds: Sequence[float] = RECALL_IOU_THRESHOLDS,
                       top_k: Sequence[int] = RECALL_TOP_K,
                       match_number: bool = True) -> Dict[str, float]:
    """R@k at IoU thresholds and mIoU of a submission.

    Args:
        submission: entries ``{qid, pred_relevant_windows: [[st, ed(, score)],
            ...]}``, one per qid.
        ground_truth: entries ``{qid, relevant_windows: [[st, ed], ...]}``.
        iou_thresholds: IoU thresholds of R@k.
        top_k: the k of R@k.
        match_number: require exactly the ground truth's qids (otherwise only
            the qids present in both are scored).

    Returns:
        ``{"R1@0.3": .., "R1@0.5": .., "R1@0.7": .., "R5@0.3": .., ...,
        "mIoU": ..}`` in percent.
    """
    gt_by_qid = index_by_qid(ground_truth, 'ground truth')
    for qid, entry in gt_by_qid.items():
        if not entry.get('relevant_windows'):
            raise ValueError(f'qid {qid!r}: the ground truth has no "relevant_windows"')
    shared = shared_qids(set(index_by_qid(submission, 'submission')), set(gt_by_qid),
                         match_number)
    submission = [entry for entry in submission if entry['qid'] in shared]

    max_k = max(top_k)
    pred_windows, pred_valid = pad_ragged(
        [_start_end(entry['pred_relevant_windows'][:max_k], entry['qid'])
         for entry in submission], pad_value=0.0, min_width=max_k)
    gt_windows, gt_valid = pad_ragged(
        [_start_end(gt_by_qid[entry['qid']]['relevant_windows'], entry['qid'])
         for entry in submission],
        pad_value=0.0, min_width=1)
    ious = np.where(pred_valid, best_gt_iou(pred_windows, gt_windows, gt_valid),
                    0.0)  # (Q, K), 0 past a query's predictions

    results = {}
    for k in top_k:
        best_of_k = ious[:, :k].max(axis=1)
        for threshold in iou_thresholds:
            results[f'R{k}@{threshold}'] = as_percent(np.mean(best_of_k >= threshold))
    results['mIoU'] = as_percent(np.mean(ious[:, 0]))
    return results


def _start_end(windows: list, qid) -> np.ndarray:
    """(n, 2) [start, end] of ``[[start, end(, score)], ...]``."""
    if len(windows) == 0:
        return np.zeros((0, 2))
    try:
        array = np.asarray(windows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f'qid {qid!r}: windows must be [start, end(, score)] '
                         f'lists, got {str(windows)[:80]}') from error
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(f'qid {qid!r}: windows must be [start, end(, score)] '
                         f'lists, got {str(windows)[:80]}')
    return array[:, :2]


__all__ = ['eval_moment_recall', 'best_gt_iou', 'RECALL_IOU_THRESHOLDS',
           'RECALL_TOP_K']
