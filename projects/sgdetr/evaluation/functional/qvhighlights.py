"""QVHighlights moment retrieval (MR) and highlight detection (HD) metrics,
equal value for value to the benchmark's official standalone evaluation
(the one its server runs), vectorised over queries.

Submission entries (one per query)::

    {"qid": 2579, "query": "...", "vid": "...",
     "pred_relevant_windows": [[start_s, end_s, score], ...],   # MR, optional
     "pred_saliency_scores": [s_0, s_1, ...]}                   # HD, optional

Ground-truth entries are lines of ``highlight_{val,test}_release.jsonl``.

Semantics reproduced (and relied upon by the tests):

* MR is evaluated when the first submission entry has
  ``pred_relevant_windows``, HD when it has ``pred_saliency_scores``.
* Only the first ``max_pred_windows`` (10) windows of an entry count, in the
  order given; the first one is the top-1 window of R1.
* AP ranks a query's windows by score with a stable sort (equal scores keep
  the submitted order) and matches each window greedily to the still
  unmatched GT window of highest IoU >= threshold; among GT windows of equal
  IoU the one listed later is matched first (the reference walks an ascending
  argsort backwards; numpy's classic small-array argsort is stable).  Its
  precision/recall curve is interpolated VOC-style (precision made
  non-increasing, summed at every recall change).
* mAP of a length range averages per-query AP over the queries with at least
  one GT window in the range, against those windows only; "full" keeps every
  query and window.  Ranges are (0, 10], (10, 30], (30, 150] seconds.
* R1 compares the top-1 window with the (in-range) GT window of highest IoU,
  using intersection / (span covering both windows) as the reference does.
* HD: per-clip GT scores come from ``relevant_clip_ids`` / ``saliency_scores``
  over ``int(duration / 2)`` clips; a clip is positive for an annotator when
  its score >= 2 (Fair), 3 (Good) or 4 (VeryGood).  HIT@1 takes the argmax of
  the full predicted list (a hit for a query when any annotator marks that
  clip positive; 0 if it lies past the video).  AP per (query, annotator)
  truncates or zero-pads the predictions to the video's clips; it is 0 when
  the annotator has no positive clip, 1 when every clip is positive, and
  otherwise the mean, over the distinct recall levels of the precision/recall
  curve (one level per group of equal scores that contains a positive), of
  the best precision at that recall or higher.
* Values are percentages formatted with 2 decimals; averages are taken with
  numpy's own summation order, so results match to the last bit.
* Several entries with the same qid behave as in the reference: AP pools their
  windows, R1 and HD use the last entry.

Where the reference would crash we raise ``ValueError`` instead (an entry
without windows, a GT query without windows), and a length range without any
query gives NaN values rather than an exception.
"""
import time
import warnings
from itertools import chain
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from sgdetr.structures.spans import span_iou_exact

from ._array_utils import (as_percent, compact_left, numpy_mean_rows,
                           numpy_sum_rows, pad_ragged, width_buckets)
from ._qids import index_by_qid, shared_qids

#: IoU thresholds of MR mAP and R1, as the reference rounds them.
MR_IOU_THRESHOLDS = tuple(float(f'{t:.2f}') for t in np.linspace(0.5, 0.95, 10))
#: (name, (min_len, max_len]) GT window length ranges, in output order.
MR_LENGTH_RANGES = (('short', (0, 10)), ('middle', (10, 30)),
                    ('long', (30, 150)), ('full', None))
#: (name, minimum saliency score of a positive clip).
HL_LEVELS = (('Fair', 2), ('Good', 3), ('VeryGood', 4))
HL_CLIP_LEN = 2
HL_NUM_ANNOTATORS = 3
MAX_PRED_WINDOWS = 10


def eval_qvhighlights(submission: List[dict], ground_truth: List[dict],
                      verbose: bool = False, match_number: bool = True,
                      max_pred_windows: Optional[int] = MAX_PRED_WINDOWS
                      ) -> Dict[str, dict]:
    """Score a QVHighlights submission exactly as the official server does.

    Args:
        submission: Q entries (see the module docstring).
        ground_truth: annotation entries with ``qid``, ``duration``,
            ``relevant_windows`` (MR) and ``relevant_clip_ids`` +
            ``saliency_scores`` (HD).
        verbose: print per-range query counts and timings.
        match_number: require the submission and the ground truth to have the
            same set of qids (the server's behaviour).  When False, only the
            qids present in both are evaluated.
        max_pred_windows: windows per entry that count (None: all).

    Returns:
        ``{"brief": {...}, "HL-min-Fair": {...}, ..., "full": {...},
        "long": ..., "middle": ..., "short": ...}`` in the reference's key
        order; MR keys only when MR is submitted, HL keys only for HD.
    """
    if not submission:
        raise ValueError('the submission is empty')
    ground_truth_by_qid = index_by_qid(ground_truth, 'ground truth')
    # Repeated qids are allowed here: the official evaluation pools their windows.
    shared = shared_qids({entry['qid'] for entry in submission},
                         set(ground_truth_by_qid), match_number)
    submission = [entry for entry in submission if entry['qid'] in shared]

    with_mr = 'pred_relevant_windows' in submission[0]
    with_hl = 'pred_saliency_scores' in submission[0]
    merged = _merge_submission(submission, max_pred_windows, with_mr, with_hl)
    qids = list(merged)

    details, brief = {}, {}
    if with_mr:
        mr = _eval_moment_retrieval(qids, merged, ground_truth_by_qid, verbose)
        details.update(mr)
        full = mr['full']
        mr_brief = {
            'MR-full-mAP': full['MR-mAP']['average'],
            'MR-full-mAP@0.5': full['MR-mAP']['0.5'],
            'MR-full-mAP@0.75': full['MR-mAP']['0.75'],
            'MR-short-mAP': mr['short']['MR-mAP']['average'],
            'MR-middle-mAP': mr['middle']['MR-mAP']['average'],
            'MR-long-mAP': mr['long']['MR-mAP']['average'],
            'MR-full-R1@0.5': full['MR-R1']['0.5'],
            'MR-full-R1@0.7': full['MR-R1']['0.7'],
        }
        brief.update(sorted(mr_brief.items()))
    if with_hl:
        hl = _eval_highlight(qids, merged, ground_truth_by_qid, verbose)
        details.update(hl)
        for level_key, values in hl.items():
            for metric_key, value in values.items():
                # "HL-mAP" -> "HL-min-Fair-mAP"
                brief[f'{level_key}-{metric_key.split("-")[1]}'] = value

    results = {'brief': brief}
    results.update(sorted(details.items()))
    return results


# --------------------------------------------------------------------------
# input handling


def _merge_submission(submission, max_pred_windows, with_mr, with_hl):
    """qid -> {'windows': (P, 3) pooled over the qid's entries, 'top1': (2,)
    and 'saliency': (L,) of its last entry}, in first-occurrence order."""
    merged = {}
    for entry in submission:
        qid = entry['qid']
        record = merged.setdefault(qid, {'windows': []})
        if with_mr:
            if 'pred_relevant_windows' not in entry:
                raise ValueError(f'qid {qid!r}: no "pred_relevant_windows" '
                                 '(the first entry has them)')
            windows = _as_windows(entry['pred_relevant_windows'], qid)
            record['top1'] = windows[0, :2]
            kept = windows if max_pred_windows is None else windows[:max_pred_windows]
            record['windows'].append(kept)
        if with_hl:
            if 'pred_saliency_scores' not in entry:
                raise ValueError(f'qid {qid!r}: no "pred_saliency_scores" '
                                 '(the first entry has them)')
            saliency = np.asarray(entry['pred_saliency_scores'], dtype=np.float64)
            if saliency.ndim != 1 or saliency.size == 0:
                raise ValueError(f'qid {qid!r}: "pred_saliency_scores" must be '
                                 'a non-empty list of numbers')
            record['saliency'] = saliency
    for record in merged.values():
        windows = record.pop('windows')
        if with_mr:
            record['windows'] = windows[0] if len(windows) == 1 else np.concatenate(windows)
    return merged


def _as_windows(raw, qid) -> np.ndarray:
    """(P, 3) float64 [start, end, score] rows of one entry."""
    try:
        windows = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f'qid {qid!r}: "pred_relevant_windows" must be a list '
                         'of [start, end, score]') from error
    if windows.ndim != 2 or windows.shape[0] == 0 or windows.shape[1] < 3:
        raise ValueError(f'qid {qid!r}: "pred_relevant_windows" must be a '
                         'non-empty list of [start, end, score], got '
                         f'{str(raw)[:80]}')
    if np.isnan(windows[:, 2]).any():
        raise ValueError(f'qid {qid!r}: a window score is NaN')
    return windows[:, :3]


# --------------------------------------------------------------------------
# moment retrieval


def _eval_moment_retrieval(qids, merged, ground_truth_by_qid, verbose):
    """{"short"|"middle"|"long"|"full": {"MR-mAP": {...}, "MR-R1": {...}}}."""
    gt_rows = []
    for qid in qids:
        windows = ground_truth_by_qid[qid].get('relevant_windows')
        if not windows:
            raise ValueError(f'qid {qid!r}: the ground truth has no '
                             '"relevant_windows"; MR cannot be evaluated')
        gt_rows.append(np.asarray(windows, dtype=np.float64).reshape(-1, 2))
    pred_windows, pred_valid = pad_ragged([merged[q]['windows'] for q in qids],
                                          pad_value=0.0, min_width=1)
    gt_windows, gt_valid = pad_ragged(gt_rows, pad_value=0.0, min_width=1)
    top1 = np.stack([merged[q]['top1'] for q in qids])  # (Q, 2)
    gt_lengths = gt_windows[..., 1] - gt_windows[..., 0]  # (Q, G)
    thresholds = np.asarray(MR_IOU_THRESHOLDS)

    results = {}
    for name, length_range in MR_LENGTH_RANGES:
        start_time = time.time()
        if length_range is None:  # every query, every GT window
            in_range = gt_valid
            kept = np.ones(len(qids), dtype=bool)
        else:  # queries with a GT window in the range, against those only
            min_len, max_len = length_range
            in_range = gt_valid & (min_len < gt_lengths) & (gt_lengths <= max_len)
            kept = in_range.any(axis=1)
        ap = mr_average_precision(pred_windows[kept], pred_valid[kept],
                                  gt_windows[kept], in_range[kept], thresholds)
        ious = top1_iou(top1[kept], gt_windows[kept], in_range[kept])
        with warnings.catch_warnings():
            # an empty range averages nothing: NaN, without a warning
            warnings.simplefilter('ignore', RuntimeWarning)
            ap_per_threshold = ap.mean(0)  # (T,), in submission order
            ap_values = dict(zip(map(str, MR_IOU_THRESHOLDS), ap_per_threshold))
            ap_values['average'] = np.mean(ap_per_threshold)
            recall_values = {str(t): as_percent(np.mean(ious >= t))
                             for t in MR_IOU_THRESHOLDS}
        results[name] = {
            'MR-mAP': {k: as_percent(v) for k, v in ap_values.items()},
            'MR-R1': recall_values,
        }
        if verbose:
            print(f'{name}: {list(length_range or (0, 150))}, '
                  f'{int(kept.sum())}/{len(qids)}='
                  f'{100 * kept.sum() / len(qids):.2f} examples, '
                  f'{time.time() - start_time:.3f} seconds')
    return results


def mr_average_precision(pred_windows: np.ndarray, pred_valid: np.ndarray,
                         gt_windows: np.ndarray, gt_valid: np.ndarray,
                         iou_thresholds: np.ndarray) -> np.ndarray:
    """Per-query detection AP at several IoU thresholds.

    Args:
        pred_windows: (Q, P, 3) [start, end, score] in submission order.
        pred_valid: (Q, P) bool; every query has at least one valid window.
        gt_windows: (Q, G, 2).  gt_valid: (Q, G) bool, at least one per query.
        iou_thresholds: (T,).

    Returns:
        (Q, T) AP in [0, 1].
    """
    # A few queries have many GT windows (up to 25 in QVHighlights val), most
    # have one to three: evaluate groups of similar counts, each padded to its
    # own width, instead of padding everything to the maximum.  GT windows
    # keep their relative order, on which tie-breaking depends.
    gt_windows, gt_counts = compact_left(gt_windows, gt_valid)
    gt_valid = np.arange(gt_windows.shape[1]) < gt_counts[:, None]
    ap = np.zeros((len(pred_valid), len(iou_thresholds)))
    for rows, width in width_buckets(gt_counts):
        ap[rows] = _dense_average_precision(
            pred_windows[rows], pred_valid[rows], gt_windows[rows, :width],
            gt_valid[rows, :width], iou_thresholds)
    return ap


def _dense_average_precision(pred_windows, pred_valid, gt_windows, gt_valid,
                             iou_thresholds):
    """:func:`mr_average_precision` on arrays padded to a common width."""
    num_queries, num_preds = pred_valid.shape
    num_gts = gt_valid.shape[1]
    num_thresholds = len(iou_thresholds)
    # stable descending sort by score; padding sorts last
    order = np.argsort(-np.where(pred_valid, pred_windows[..., 2], -np.inf),
                       axis=1, kind='stable')
    ranked = np.take_along_axis(pred_windows, order[..., None], axis=1)
    ranked_valid = np.take_along_axis(pred_valid, order, axis=1)
    ious = span_iou_exact(ranked[..., :2], gt_windows)  # (Q, P, G)
    # A NaN IoU (an empty window on an empty window) sorts above every number
    # in the reference and never fails its threshold test: it ranks as +inf.
    ious = np.where(np.isnan(ious), np.inf, ious)

    # Greedy matching is sequential in the rank (a GT matched by a better
    # window is unavailable to later ones), so loop over the <= 10 ranks and
    # vectorise over queries, thresholds and GT windows.
    thresholds = np.asarray(iou_thresholds, dtype=np.float64)[None, :, None]
    matched_gt = np.zeros((num_queries, num_thresholds, num_gts), dtype=bool)
    true_pos = np.zeros((num_queries, num_thresholds, num_preds), dtype=bool)
    query_index = np.arange(num_queries)[:, None]
    threshold_index = np.arange(num_thresholds)[None, :]
    for rank in range(num_preds):
        rank_ious = ious[:, None, rank, :]  # (Q, 1, G)
        eligible = ((rank_ious >= thresholds) & ~matched_gt
                    & gt_valid[:, None, :] & ranked_valid[:, rank, None, None])
        # best IoU first; among equal IoUs the later GT window first
        candidate_iou = np.where(eligible, rank_ious, -np.inf)
        chosen = num_gts - 1 - np.argmax(candidate_iou[..., ::-1], axis=-1)
        hit = eligible.any(axis=-1)  # (Q, T)
        true_pos[:, :, rank] = hit
        matched_gt[query_index, threshold_index, chosen] |= hit
    false_pos = ranked_valid[:, None, :] & ~true_pos

    tp_cumsum = np.cumsum(true_pos, axis=-1, dtype=np.float64)
    fp_cumsum = np.cumsum(false_pos, axis=-1, dtype=np.float64)
    num_positive = gt_valid.sum(axis=1).astype(np.float64)[:, None, None]
    recall = tp_cumsum / num_positive
    # padding repeats the last real cumulative counts: it adds no recall step
    precision = tp_cumsum / (tp_cumsum + fp_cumsum)

    zeros = np.zeros((num_queries, num_thresholds, 1))
    padded_precision = np.concatenate([zeros, precision, zeros], axis=-1)
    padded_recall = np.concatenate([zeros, recall, zeros + 1.0], axis=-1)
    # interpolation: precision at recall r = best precision at recall >= r
    padded_precision = np.maximum.accumulate(
        padded_precision[..., ::-1], axis=-1)[..., ::-1]
    recall_step = padded_recall[..., 1:] - padded_recall[..., :-1]
    changed = padded_recall[..., 1:] != padded_recall[..., :-1]
    terms = recall_step * padded_precision[..., 1:]
    flat_terms, counts = compact_left(terms.reshape(-1, num_preds + 1),
                                      changed.reshape(-1, num_preds + 1))
    return numpy_sum_rows(flat_terms, counts).reshape(num_queries, num_thresholds)


def top1_iou(top1: np.ndarray, gt_windows: np.ndarray,
             gt_valid: np.ndarray) -> np.ndarray:
    """IoU of each query's top-1 window with its best-matching GT window.

    The GT window is the one of highest IoU (first one on ties); the IoU
    reported divides the intersection by the span covering both windows
    (equal to the IoU whenever the windows overlap), as the reference does.

    Args:
        top1: (Q, 2).  gt_windows: (Q, G, 2).  gt_valid: (Q, G) bool.

    Returns:
        (Q,) float64.
    """
    if len(top1) == 0:
        return np.zeros(0)
    ious = span_iou_exact(top1[:, None, :], gt_windows)[:, 0, :]  # (Q, G)
    best = np.argmax(np.where(gt_valid, ious, -np.inf), axis=1)
    gt = np.take_along_axis(gt_windows, best[:, None, None], axis=1)[:, 0]
    inter = np.maximum(0, np.minimum(top1[:, 1], gt[:, 1])
                       - np.maximum(top1[:, 0], gt[:, 0]))
    covering = np.maximum(top1[:, 1], gt[:, 1]) - np.minimum(top1[:, 0], gt[:, 0])
    return np.divide(inter, covering, out=np.zeros_like(inter),
                     where=covering != 0)


# --------------------------------------------------------------------------
# highlight detection


def clip_saliency_table(entries: Sequence[dict], clip_len: float = HL_CLIP_LEN
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-clip GT saliency of several annotations.

    A video has ``int(duration / clip_len)`` clips; clips outside
    ``relevant_clip_ids`` score 0.

    Returns:
        scores: (Q, L, A) float64, L the most clips of a video.
        valid: (Q, L) bool, True at a video's clips.
    """
    num_clips = np.array([int(entry['duration'] / clip_len) for entry in entries],
                         dtype=np.int64)
    clip_ids = [entry.get('relevant_clip_ids') or [] for entry in entries]
    ids_per_query = np.array([len(ids) for ids in clip_ids], dtype=np.int64)
    flat_ids = np.fromiter(chain.from_iterable(clip_ids), dtype=np.int64,
                           count=int(ids_per_query.sum()))
    query_of_id = np.repeat(np.arange(len(entries)), ids_per_query)
    out_of_video = (flat_ids >= num_clips[query_of_id]) | (flat_ids < -num_clips[query_of_id])
    if out_of_video.any():
        entry = entries[int(query_of_id[np.argmax(out_of_video)])]
        raise ValueError(f'qid {entry["qid"]!r}: a relevant clip id lies past the '
                         f'{int(entry["duration"] / clip_len)} clips of the video')
    flat_scores = np.array(
        list(chain.from_iterable(entry.get('saliency_scores') or []
                                 for entry in entries)),
        dtype=np.float64).reshape(-1, HL_NUM_ANNOTATORS)
    if len(flat_scores) != len(flat_ids):
        raise ValueError('every relevant clip id needs one row of saliency scores')
    width = max(int(num_clips.max(initial=0)), 1)
    scores = np.zeros((len(entries), width, HL_NUM_ANNOTATORS))
    # negative ids count from the video's end, as numpy indexing does
    scores[query_of_id, np.where(flat_ids < 0, flat_ids + num_clips[query_of_id],
                                 flat_ids)] = flat_scores
    valid = np.arange(width) < num_clips[:, None]
    return scores, valid


def _eval_highlight(qids, merged, ground_truth_by_qid, verbose):
    """{"HL-min-Fair": {"HL-mAP": .., "HL-Hit1": ..}, ... Good, VeryGood}."""
    start_time = time.time()
    entries = [ground_truth_by_qid[qid] for qid in qids]
    for entry in entries:
        if entry.get('relevant_clip_ids') is None or entry.get('saliency_scores') is None:
            raise ValueError(f'qid {entry["qid"]!r}: the ground truth has no '
                             '"relevant_clip_ids"/"saliency_scores"; HD cannot '
                             'be evaluated')
    gt_scores, gt_valid = clip_saliency_table(entries)  # (Q, L, A), (Q, L)
    pred, pred_valid = pad_ragged([merged[q]['saliency'] for q in qids],
                                  pad_value=-np.inf, min_width=1)  # (Q, Lp)
    num_clips = gt_valid.sum(axis=1)
    min_scores = np.array([min_score for _, min_score in HL_LEVELS], dtype=np.float64)
    # (Q, L, A, levels): positive clips of every annotator at every level
    positive = (gt_scores[..., None] >= min_scores) & gt_valid[..., None, None]

    # HIT@1 looks at the argmax of the whole predicted list (first on ties);
    # a clip past the video is a miss.
    top_clip = np.argmax(pred, axis=1)
    top_clip_positive = np.take_along_axis(
        positive, np.minimum(top_clip, positive.shape[1] - 1)[:, None, None, None],
        axis=1)[:, 0]  # (Q, A, levels)
    hits = (top_clip_positive & (top_clip < num_clips)[:, None, None]).astype(np.float64)

    # AP compares predictions truncated / zero-padded to the video's clips.
    width = gt_scores.shape[1]
    aligned = np.zeros((len(qids), width))
    overlap = min(width, pred.shape[1])
    aligned[:, :overlap] = np.where(pred_valid[:, :overlap], pred[:, :overlap], 0.0)
    aligned = np.where(gt_valid, aligned, -np.inf)  # padding ranks last
    ranking = rank_clips(aligned, gt_valid, qids)
    num_queries, _, num_annotators, num_levels = positive.shape
    ap = highlight_average_precision(
        ranking, positive.reshape(num_queries, width, -1), num_clips
    ).reshape(num_queries, num_annotators, num_levels)

    results = {}
    for level, (level_name, _) in enumerate(HL_LEVELS):
        # contiguous (Q, A) copies: np.mean then sums in the reference's order
        level_ap = np.ascontiguousarray(ap[..., level])
        level_hits = np.ascontiguousarray(hits[..., level])
        results[f'HL-min-{level_name}'] = {
            'HL-mAP': as_percent(np.mean(level_ap)),
            'HL-Hit1': as_percent(np.mean(np.max(level_hits, axis=1)))}
    if verbose:
        print(f'highlight detection: {time.time() - start_time:.3f} seconds')
    return results


class ClipRanking(NamedTuple):
    """Clips of each query sorted by decreasing predicted score.

    order: (Q, L) clip indices, best first, padding last.
    group_end: (Q, L) bool, True at the last position of each run of equal
        scores (the points of the precision/recall curve).
    """
    order: np.ndarray
    group_end: np.ndarray


def rank_clips(scores: np.ndarray, valid: np.ndarray, qids=None) -> ClipRanking:
    """Rank the clips of (Q, L) ``scores`` (-inf at padding, ``valid`` False).

    Raises ValueError for a non-finite real score (the reference rejects them).
    """
    bad = valid & ~np.isfinite(scores)
    if bad.any():
        row = int(np.nonzero(bad)[0][0])
        name = f'qid {qids[row]!r}' if qids is not None else f'row {row}'
        raise ValueError(f'{name}: saliency scores must be finite')
    order = np.argsort(-scores, axis=1, kind='stable')
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    sorted_valid = np.take_along_axis(valid, order, axis=1)
    # padding (-inf) differs from every real score, so the last real clip
    # always ends a group
    group_end = sorted_valid & np.concatenate(
        [sorted_scores[:, 1:] != sorted_scores[:, :-1],
         np.ones((len(scores), 1), dtype=bool)], axis=1)
    return ClipRanking(order, group_end)


def highlight_average_precision(ranking: ClipRanking, positive: np.ndarray,
                                num_clips: np.ndarray) -> np.ndarray:
    """Per (query, column) highlight AP of the reference evaluation.

    Args:
        ranking: clip ranking of Q queries over L padded clips.
        positive: (Q, L, C) bool binary GT, one column per annotator (and
            level); False at padding.
        num_clips: (Q,) real clips per query.

    Returns:
        (Q, C) AP in [0, 1].
    """
    num_queries, width, num_columns = positive.shape
    # clip-major layout (L, Q, C): the running sums and maxima below then run
    # over whole contiguous rows at once
    ranked = np.take_along_axis(positive, ranking.order[..., None], axis=1)
    ranked = np.ascontiguousarray(ranked.transpose(1, 0, 2))
    group_end = ranking.group_end.T[..., None]  # (L, Q, 1)

    true_pos = np.cumsum(ranked, axis=0, dtype=np.int32)  # exact counts
    precision = true_pos / np.arange(1, width + 1, dtype=np.float64)[:, None, None]
    # best precision at this point or any later (higher-recall) point
    best_precision = np.maximum.accumulate(
        np.where(group_end, precision, -np.inf)[::-1], axis=0)[::-1]
    # a recall level per group of equal scores that holds a positive clip
    tp_before = np.maximum.accumulate(np.where(group_end, true_pos, 0), axis=0)
    tp_before = np.concatenate([np.zeros((1, num_queries, num_columns), np.int32),
                                tp_before[:-1]], axis=0)
    new_level = group_end & (true_pos > tp_before)

    # 0 without positive, 1 when every clip is positive, else the mean of the
    # levels' precisions, listed (as the reference does) from low to high score
    num_pos = true_pos[-1].reshape(-1)
    clips = np.repeat(num_clips, num_columns)
    ap = (num_pos == clips).astype(np.float64)
    mixed = (num_pos > 0) & (num_pos < clips)
    levels, counts = compact_left(best_precision[::-1].reshape(width, -1).T[mixed],
                                  new_level[::-1].reshape(width, -1).T[mixed])
    ap[mixed] = numpy_mean_rows(levels, counts)
    return ap.reshape(num_queries, num_columns)


__all__ = ['eval_qvhighlights', 'mr_average_precision', 'top1_iou',
           'highlight_average_precision', 'rank_clips',
           'clip_saliency_table', 'MR_IOU_THRESHOLDS',
           'MR_LENGTH_RANGES', 'HL_LEVELS']
