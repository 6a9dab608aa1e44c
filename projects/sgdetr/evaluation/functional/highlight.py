"""Highlight detection metrics of YouTube-Highlights and TVSum, following
the protocol of UMT that QD-DETR, CG-DETR and later work report.

Both rank a video's clips by predicted saliency (decreasing; equal scores keep
clip order) and compute a non-interpolated AP with the trapezoidal rule over
the ranked list, starting from (recall 0, precision 1):

    AP = sum_j (rec_j - rec_{j-1}) * (prec_{j-1} + prec_j) / 2

* YouTube-Highlights: ``label`` holds one 0/1 column per clip (a clip is
  positive when any column is > 0); AP over the whole ranking; the value of a
  domain (``domain`` key) is the mean AP of its videos.
* TVSum ("top-5 mAP"): ``label`` is (clips, 20) annotator scores 1..5.  For
  each annotator, a clip is positive when its score exceeds that annotator's
  median over the video (the lower median for an even clip count, as
  ``torch.median``); only the top-``k`` ranked clips are looked at, and recall
  is relative to the positives among them (AP 0 when there are none).  The
  value of a category is the mean over its videos and the 20 annotators.

Predictions longer than the video are truncated; shorter ones rank (and
count the positives of) the predicted clips only, while TVSum medians still
come from the whole annotation.  Per-domain values and their mean ``"mAP"``
(over domains) are percentages with 2 decimals.
"""
from typing import Dict, List

import numpy as np

from ._array_utils import as_percent, pad_ragged
from ._qids import index_by_qid, shared_qids

TVSUM_TOP_K = 5


def trapezoid_average_precision(ranked_positive: np.ndarray,
                                ranked_valid: np.ndarray) -> np.ndarray:
    """AP of ranked binary lists with the trapezoidal rule.

    Args:
        ranked_positive: (N, K) bool, labels in ranked order.
        ranked_valid: (N, K) bool, False past a list's end (must be a suffix).

    Returns:
        (N,) AP in [0, 1]; 0 for a list without positives.
    """
    positive = ranked_positive & ranked_valid
    hits = np.cumsum(positive, axis=1, dtype=np.float64)
    num_gt = hits[:, -1:] if hits.shape[1] else np.zeros((len(hits), 1))
    with np.errstate(invalid='ignore', divide='ignore'):
        recall = hits / num_gt
    precision = hits / np.arange(1, hits.shape[1] + 1, dtype=np.float64)
    previous_recall = np.concatenate([np.zeros((len(hits), 1)), recall[:, :-1]], 1)
    previous_precision = np.concatenate([np.ones((len(hits), 1)), precision[:, :-1]], 1)
    # only positives move the recall; the where() also drops the NaN rows of
    # lists without positives
    terms = np.where(positive, (recall - previous_recall)
                     * (previous_precision + precision) / 2, 0.0)
    # cumulative sum = left-to-right sum, the order of the reference loop
    ap = np.cumsum(terms, axis=1)[:, -1] if terms.shape[1] else np.zeros(len(terms))
    return np.where(num_gt[:, 0] > 0, ap, 0.0)


def _ranked_clips(submission_by_qid, ground_truth, label_lengths):
    """Predicted scores aligned to the annotations and ranked.

    Returns:
        order: (V, L) clip indices by decreasing score (stable).
        ranked_valid: (V, L) bool, True where a predicted clip of the video sits.
    """
    scores = []
    for entry, num_clips in zip(ground_truth, label_lengths):
        saliency = np.asarray(submission_by_qid[entry['qid']]['pred_saliency_scores'],
                              dtype=np.float64).reshape(-1)
        if not np.isfinite(saliency).all():
            raise ValueError(f'qid {entry["qid"]!r}: saliency scores must be finite')
        scores.append(saliency[:num_clips])
    padded, valid = pad_ragged(scores, pad_value=-np.inf, min_width=1)
    order = np.argsort(-padded, axis=1, kind='stable')
    return order, np.take_along_axis(valid, order, axis=1)


def _index_submission(submission, ground_truth, match_number):
    """(qid -> submission entry, the ground-truth entries to score, in order)."""
    by_qid = index_by_qid(submission, 'submission')
    shared = shared_qids(set(by_qid), set(index_by_qid(ground_truth, 'ground truth')),
                         match_number)
    return by_qid, [entry for entry in ground_truth if entry['qid'] in shared]


def _per_domain(ap_per_video: np.ndarray, ground_truth) -> Dict[str, float]:
    """{domain: mean AP %, ..., "mAP": mean over domains %}, domains sorted."""
    domains = np.array([str(entry.get('domain')) for entry in ground_truth])
    names = sorted(set(domains.tolist()))
    means = [ap_per_video[domains == name].mean() for name in names]
    results = {name: as_percent(mean) for name, mean in zip(names, means)}
    results['mAP'] = as_percent(np.mean(means))
    return results


def eval_youtube_highlights(submission: List[dict], ground_truth: List[dict],
                            match_number: bool = True) -> Dict[str, float]:
    """YouTube-Highlights mAP per domain.

    Args:
        submission: ``{qid, pred_saliency_scores: [...]}`` entries.
        ground_truth: ``{qid, domain, label: [[0|1], ...]}`` entries.
        match_number: require the ground truth's qids exactly.

    Returns:
        ``{"dog": .., "gymnastics": .., ..., "mAP": ..}`` in percent.
    """
    by_qid, ground_truth = _index_submission(submission, ground_truth, match_number)
    labels, label_valid = pad_ragged(
        [np.asarray(entry['label'], dtype=np.float64).reshape(len(entry['label']), -1)
         .max(axis=1) for entry in ground_truth], pad_value=0.0, min_width=1)
    order, ranked_valid = _ranked_clips(by_qid, ground_truth, label_valid.sum(1))
    ranked_positive = np.take_along_axis(labels > 0, order, axis=1)
    ap = trapezoid_average_precision(ranked_positive, ranked_valid)  # (V,)
    return _per_domain(ap, ground_truth)


def eval_tvsum(submission: List[dict], ground_truth: List[dict],
               top_k: int = TVSUM_TOP_K,
               match_number: bool = True) -> Dict[str, float]:
    """TVSum top-k mAP per category.

    Args:
        submission: ``{qid, pred_saliency_scores: [...]}`` entries.
        ground_truth: ``{qid, domain, label: (clips, A) scores}`` entries.
        top_k: ranked clips looked at (5 in the literature).
        match_number: require the ground truth's qids exactly.

    Returns:
        ``{"BK": .., "BT": .., ..., "mAP": ..}`` in percent.
    """
    by_qid, ground_truth = _index_submission(submission, ground_truth, match_number)
    labels, label_valid = pad_ragged(
        [np.asarray(entry['label'], dtype=np.float64) for entry in ground_truth],
        pad_value=np.inf, min_width=1)  # (V, L, A); +inf sorts padding last
    num_clips = label_valid.sum(axis=1)
    lower_median = np.take_along_axis(
        np.sort(labels, axis=1), ((num_clips - 1) // 2)[:, None, None], axis=1)
    positive = (labels > lower_median) & label_valid[..., None]  # (V, L, A)

    order, ranked_valid = _ranked_clips(by_qid, ground_truth, num_clips)
    top = order[:, :top_k]
    top_valid = ranked_valid[:, :top_k]
    ranked_positive = np.take_along_axis(positive, top[..., None], axis=1)  # (V, k, A)
    num_videos, k, num_annotators = ranked_positive.shape
    ap = trapezoid_average_precision(
        ranked_positive.transpose(0, 2, 1).reshape(-1, k),
        np.repeat(top_valid, num_annotators, axis=0)).reshape(num_videos,
                                                              num_annotators)
    return _per_domain(ap.mean(axis=1), ground_truth)


__all__ = ['eval_youtube_highlights', 'eval_tvsum',
           'trapezoid_average_precision', 'TVSUM_TOP_K']
