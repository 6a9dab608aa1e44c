"""Video corpus moment retrieval (VCMR), as TVR (Lei et al., 2020) defines it.

Every query is answered by a ranked list of moments ``(video, start, end)``
from the whole corpus. R@k IoU=m counts a query when one of its first k
moments is in the ground-truth video and overlaps a ground-truth window by a
temporal IoU of at least m (with several windows, any of them). The first
stage of a search is measured by its video recall@N: the ground-truth video
is among the videos of its N candidates.
"""
from typing import Dict, List, Sequence

import numpy as np

from ._array_utils import as_percent, pad_ragged
from .recall import best_gt_iou

VCMR_TOP_K = (1, 10, 100)
VCMR_IOU_THRESHOLDS = (0.5, 0.7)


def eval_vcmr(predictions: Sequence[Sequence], ground_truth: Sequence[dict],
              top_k: Sequence[int] = VCMR_TOP_K,
              iou_thresholds: Sequence[float] = VCMR_IOU_THRESHOLDS) -> Dict[str, float]:
    """R@k at IoU thresholds over a corpus.

    Args:
        predictions: one ranked list per query of ``(video, start, end, ...)``.
        ground_truth: one dict per query (same order): ``vid``,
            ``relevant_windows`` ``[[start, end], ...]`` seconds.
        top_k, iou_thresholds: the k and m of R@k IoU=m.

    Returns:
        ``{'R1@0.5': .., 'R1@0.7': .., 'R10@0.5': .., ...}`` in percent.
    """
    if len(predictions) != len(ground_truth):
        raise ValueError(f'{len(predictions)} prediction lists for {len(ground_truth)} queries')
    depth = max(top_k)
    ranked = [list(p)[:depth] for p in predictions]
    same_video = pad_ragged([np.array([str(m[0]) == str(gt['vid']) for m in p], dtype=float)
                             for p, gt in zip(ranked, ground_truth)], 0.0, depth)[0] > 0
    spans, valid = pad_ragged([np.array([m[1:3] for m in p], dtype=float).reshape(-1, 2)
                               for p in ranked], 0.0, depth)
    gt_spans, gt_valid = pad_ragged([np.asarray(gt['relevant_windows'], float).reshape(-1, 2)
                                     for gt in ground_truth], 0.0, 1)
    ious = np.where(valid & same_video, best_gt_iou(spans, gt_spans, gt_valid), 0.0)  # (Q, K)
    return {f'R{k}@{m}': as_percent(np.mean(ious[:, :k].max(axis=1, initial=0.0) >= m))
            for k in top_k for m in iou_thresholds}


def video_recall(candidate_videos: Sequence[Sequence[str]], gt_videos: Sequence[str],
                 top_n: Sequence[int]) -> Dict[str, float]:
    """Percent of queries whose ground-truth video is among the videos of their
    first N candidates, for each N of ``top_n`` (``{'video_R@N': ..}``)."""
    depth = max(top_n)
    hits = pad_ragged([np.array([str(v) == str(gt) for v in list(c)[:depth]], dtype=float)
                       for c, gt in zip(candidate_videos, gt_videos)], 0.0, depth)[0] > 0
    return {f'video_R@{n}': as_percent(np.mean(hits[:, :n].any(axis=1))) for n in top_n}


__all__: List[str] = ['eval_vcmr', 'video_recall', 'VCMR_TOP_K', 'VCMR_IOU_THRESHOLDS']
