"""InterVid-MR (paper §4.3.2): MR + HD samples relabelled from captions that
each come with a single annotated interval.

A caption of a video-retrieval corpus is linked to one interval of its video,
while other stretches of the video may match it as well.  Relabelling uses the
similarity of every clip to the caption, in one aligned video-text space:

1. ``S = cos(clip, caption)`` per clip (eq. 16):
   :func:`clip_caption_similarity`.
2. ``S_min = mean(S_pos) - 3 std(S_pos)`` over the clips of the annotated
   interval (eq. 17): :func:`similarity_threshold`.
3. The new positive windows are the maximal runs of clips with ``S > S_min``:
   :func:`true_runs`.
4. Every positive clip gets a grade 1..4 from ``mu +- 1.5 sigma`` of the
   positive clips' scores (eq. 18): :func:`saliency_grades`.

:func:`relabel_moment` does 2-4 for one sample and :func:`build_intervid_mr`
turns a list of raw samples plus feature files into annotation lines of the
QVHighlights release format, so the result trains with
:class:`~sgdetr.datasets.QVHighlightsDataset` like any QVHighlights split
(command line: ``tools/data/make_intervid_mr.py``).

Conventions (where the paper leaves a choice open):

- ``std`` is the population standard deviation (``ddof=0``) in eqs. 17-18.
- A clip is positive when ``S > S_min`` (strict, as the paper writes "higher
  than").  Every clip of the annotated interval therefore stays positive
  when the interval has fewer than 10 clips: a value of n samples lies at
  most ``sqrt(n - 1)`` standard deviations from their mean.  From 10 clips on
  an outlier clip of the interval (e.g. a shot change) can fall to or below
  ``S_min`` and is dropped, which may split the interval.  When every clip
  of the interval scores the same (``std = 0``, always so for a one-clip
  interval) the strict rule would leave no clip at all, so the comparison is
  ``S >= S_min`` there: the interval and every clip scoring at least as high
  are positive.
- The grades of eq. 18 use ``mu``, ``sigma`` of the clips of the *new*
  positive windows (the clips being graded), with the intervals exactly as
  written: ``(mu + 1.5 sigma, S_max]`` -> 4, ``(mu, mu + 1.5 sigma]`` -> 3,
  ``(mu - 1.5 sigma, mu]`` -> 2, ``[S_min, mu - 1.5 sigma]`` -> 1.  Equal
  scores (``sigma = 0``) all fall in the closed interval of grade 1.
- QVHighlights has 3 annotators per clip; the single grade is repeated 3
  times (``saliency_scores: [[g, g, g], ...]``), so every metric and loss
  that averages or thresholds annotators sees the grade itself.
- Seconds -> clips: a clip belongs to the annotated interval when the
  interval covers more than half of it (the clip it overlaps most when none
  is), the rule used for binary saliency elsewhere in this package.
- Only the whole clips of a video, ``int(duration / clip_len)``, are
  relabelled: the official QVHighlights evaluation counts no partial last
  clip, so windows and clip ids never reach past the duration.
"""
import math
import os
import os.path as osp
import zipfile
from collections import Counter
from functools import lru_cache
from numbers import Real
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

from .errors import DataError
from .features import LAYOUTS, l2_normalize, read_npz_array
from .transforms import binary_saliency_from_windows

#: QVHighlights annotators per clip; the one grade is written this many times.
NUM_ANNOTATORS = 3
#: eq. 17: S_min lies this many standard deviations below the interval mean.
THRESHOLD_STDS = 3.0
#: eq. 18: the grade boundaries lie this many standard deviations from mu.
GRADE_STDS = 1.5
#: npz keys of a caption embedding, in order of preference: the pooled (D,)
#: embedding, else the mean of the (N, D) token features.
CAPTION_POOLED_KEY = 'pooler_output'
CAPTION_TOKENS_KEY = 'last_hidden_state'
#: keys of a raw sample (one line of the input JSONL).
RAW_SAMPLE_KEYS = ('vid', 'qid', 'query', 'duration', 'interval')
#: why :func:`build_intervid_mr` may leave a sample out, in report order.
SKIP_REASONS = ('missing_video_features', 'missing_caption_features',
                'unreadable_features', 'duplicate_qid', 'empty_interval',
                'video_too_short', 'length_mismatch',
                'interval_outside_video')


def clip_caption_similarity(video: np.ndarray,
                            caption: np.ndarray) -> np.ndarray:
    """Cosine similarity of every clip to the caption (eq. 16).

    Args:
        video: (L, D) clip embeddings.
        caption: (D,) caption embedding, in the same space.

    Returns:
        (L,) float64 in [-1, 1]; 0 for an all-zero clip or caption.
    """
    video = np.asarray(video, dtype=np.float64)
    caption = np.asarray(caption, dtype=np.float64)
    if video.ndim != 2 or caption.shape != video.shape[1:]:
        raise ValueError(f'need video (L, D) and caption (D,), got '
                         f'{video.shape} and {caption.shape}')
    return l2_normalize(video) @ l2_normalize(caption)


def _is_constant(values: np.ndarray) -> bool:
    # Exact test: np.std of equal values can be a rounding residue (~1e-17)
    # instead of 0, which would make the degenerate case depend on the value.
    return bool(values.max() == values.min())


def similarity_threshold(similarity: np.ndarray,
                         interval: Tuple[int, int]) -> float:
    """``S_min = mean(S_pos) - 3 std(S_pos)`` (eq. 17).

    Args:
        similarity: (L,) clip-caption similarity.
        interval: ``[start, end)`` clip indices of the annotated interval
            (S_pos = ``similarity[start:end]``).

    Returns:
        S_min; exactly the common score when all of S_pos are equal.
    """
    start, end = _check_interval(interval, len(similarity))
    scores = np.asarray(similarity[start:end], dtype=np.float64)
    if _is_constant(scores):
        return float(scores[0])
    return float(scores.mean() - THRESHOLD_STDS * scores.std())


def true_runs(mask: np.ndarray) -> np.ndarray:
    """Maximal runs of True in a boolean sequence.

    Args:
        mask: (L,) bool.

    Returns:
        (K, 2) int64 ``[start, end)`` indices, in order; (0, 2) when no True.
    """
    mask = np.asarray(mask, dtype=bool)
    # Pad with False on both sides so every run has a rising and a falling
    # edge, also a run touching either end of the sequence.
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges.reshape(-1, 2).astype(np.int64)


def saliency_grades(scores: np.ndarray) -> np.ndarray:
    """Grade 1..4 of every positive clip by eq. 18.

    ``mu``, ``sigma`` are the mean and (population) std of ``scores``: 4 on
    ``(mu + 1.5 sigma, S_max]``, 3 on ``(mu, mu + 1.5 sigma]``, 2 on
    ``(mu - 1.5 sigma, mu]``, 1 on ``[S_min, mu - 1.5 sigma]`` (every score
    lies at or above S_min, being positive).

    Args:
        scores: (P,) similarity of the P positive clips, P >= 1.

    Returns:
        (P,) int64 in 1..4; all 1 when the scores are all equal (sigma = 0:
        only the closed interval of grade 1 holds mu).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f'need (P,) scores with P >= 1, got {scores.shape}')
    if _is_constant(scores):
        return np.ones(scores.shape, dtype=np.int64)
    mu, sigma = scores.mean(), scores.std()
    # Each strict comparison passes one left-open boundary of eq. 18.
    return (1 + (scores > mu - GRADE_STDS * sigma).astype(np.int64)
            + (scores > mu) + (scores > mu + GRADE_STDS * sigma))


def relabel_moment(similarity: np.ndarray, interval: Tuple[int, int],
                   clip_len: float = 2.0) -> Dict[str, list]:
    """New MR windows and HD grades of one sample from its clip similarity.

    Args:
        similarity: (L,) clip-caption similarity of the clips to label (the
            whole clips of the video).
        interval: ``[start, end)`` clip indices of the annotated interval,
            ``0 <= start < end <= L``.
        clip_len: seconds per clip.

    Returns:
        JSON-ready QVHighlights fields (see the module doc for the rules):

        - ``relevant_windows``: (K, 2) list, seconds ``[start, end]`` of the
          maximal runs of positive clips (``S > S_min``);
        - ``relevant_clip_ids``: (P,) list of int, the positive clips;
        - ``saliency_scores``: (P, 3) list of int, the eq. 18 grade of each
          positive clip, once per QVHighlights annotator.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 1:
        raise ValueError(f'need (L,) similarity, got {similarity.shape}')
    start, end = _check_interval(interval, len(similarity))
    threshold = similarity_threshold(similarity, (start, end))
    if _is_constant(similarity[start:end]):
        positive = similarity >= threshold  # see the module doc
    else:
        positive = similarity > threshold
    clip_ids = np.flatnonzero(positive)
    grades = saliency_grades(similarity[clip_ids])
    return dict(
        relevant_windows=(true_runs(positive) * float(clip_len)).tolist(),
        relevant_clip_ids=clip_ids.tolist(),
        saliency_scores=np.repeat(grades[:, None], NUM_ANNOTATORS,
                                  axis=1).tolist())


def seconds_to_clip_interval(interval: Tuple[float, float], clip_len: float,
                             num_clips: int) -> Optional[Tuple[int, int]]:
    """``[start, end)`` clip indices of an interval given in seconds.

    A clip belongs to the interval when the interval covers more than half
    of it; an interval too short to cover half a clip gets the clip it
    overlaps most.

    Args:
        interval: ``(start, end)`` seconds, ``end > start``.
        clip_len: seconds per clip.
        num_clips: L, the clips of the video.

    Returns:
        ``(start, end)`` clip indices, or ``None`` when the interval overlaps
        none of the L clips.
    """
    inside = binary_saliency_from_windows(
        np.asarray([interval], dtype=np.float64), num_clips, clip_len)[:, 0]
    clip_ids = np.flatnonzero(inside)
    if clip_ids.size == 0:
        return None
    # The covered clips of one interval are contiguous.
    return int(clip_ids[0]), int(clip_ids[-1]) + 1


def load_caption_embedding(path: str) -> np.ndarray:
    """The (D,) caption embedding stored at ``path``.

    ``pooler_output`` (shape (D,) or (1, D)) when the file has it, else the
    mean over tokens of ``last_hidden_state`` (N, D).

    Raises:
        DataError: unreadable file, neither key, wrong shape, NaN/Inf.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            pooled = (npz[CAPTION_POOLED_KEY]
                      if CAPTION_POOLED_KEY in keys else None)
    except (OSError, ValueError, EOFError, AttributeError,
            zipfile.BadZipFile) as error:
        # AttributeError: a bare .npy array has no `.files`.
        raise DataError(f'{path}: cannot read caption features ({error})'
                        ) from error
    if pooled is None:
        if CAPTION_TOKENS_KEY not in keys:
            raise DataError(f'{path}: needs {CAPTION_POOLED_KEY!r} or '
                            f'{CAPTION_TOKENS_KEY!r} (the file has {keys})')
        return read_npz_array(path, CAPTION_TOKENS_KEY).mean(axis=0)
    if pooled.ndim == 2 and pooled.shape[0] == 1:
        pooled = pooled[0]
    if (pooled.ndim != 1 or pooled.size == 0
            or not np.issubdtype(pooled.dtype, np.number)):
        raise DataError(f'{path}: {CAPTION_POOLED_KEY!r} must be a numeric '
                        f'(D,) vector, got {pooled.dtype} {pooled.shape}')
    if not np.isfinite(pooled).all():
        raise DataError(f'{path}: {CAPTION_POOLED_KEY!r} holds NaN/Inf')
    return pooled.astype(np.float32)


def build_intervid_mr(samples: Iterable[dict],
                      video_dir: str,
                      caption_dir: str,
                      clip_len: float = 2.0,
                      length_tolerance: Optional[float] = 0.1,
                      ) -> Tuple[List[dict], dict]:
    """Relabel raw caption samples into QVHighlights-format annotation lines.

    Args:
        samples: dicts with ``vid`` (str), ``qid`` (int or str), ``query``
            (str), ``duration`` (seconds) and ``interval`` ``[start, end]``
            (seconds), the one annotated interval of the caption.
        video_dir: ``{vid}.npz`` with key ``features`` (L, D).
        caption_dir: ``qid{qid}.npz`` with ``pooler_output`` (D,) or
            ``last_hidden_state`` (N, D) (token mean), in the video space.
        clip_len: seconds per clip of the video features.
        length_tolerance: a sample whose feature length L differs from
            ``duration / clip_len`` by more than this fraction (and more
            than 2 clips) is skipped: the dataset would reject it with the
            same default rule.  ``None`` keeps every length.

    Returns:
        ``(lines, summary)``: ``lines`` are dicts with ``qid, query,
        duration, vid, relevant_clip_ids, saliency_scores,
        relevant_windows``; ``summary`` (see
        :func:`format_intervid_mr_summary`) holds ``num_samples``,
        ``num_written``, ``skipped`` (reason -> count, reasons of
        ``SKIP_REASONS``), ``skip_examples`` (reason -> first message),
        ``num_windows``, ``num_positive_clips``, ``num_clips`` and
        ``grade_histogram`` (4 counts of grades 1..4 over positive clips).

    Raises:
        DataError: a sample lacks a key or has a malformed value, or the
            caption and video embeddings differ in dim (they must share one
            space).
    """
    if not clip_len > 0:
        raise ValueError(f'clip_len must be positive, got {clip_len}')
    video_files = _list_dir(video_dir)
    caption_files = _list_dir(caption_dir)
    # Several captions may share a video: keep the recent ones in memory.
    @lru_cache(maxsize=16)
    def load_video(path: str) -> np.ndarray:
        return read_npz_array(path, LAYOUTS['npz'][1])

    lines, seen_qids = [], set()
    skipped, skip_examples = Counter(), {}
    grade_histogram = np.zeros(4, dtype=np.int64)
    totals = Counter()
    num_samples = 0

    def skip(reason: str, message: str) -> None:
        skipped[reason] += 1
        skip_examples.setdefault(reason, message)

    for index, sample in enumerate(samples):
        num_samples += 1
        vid, qid, query, duration, (start_s, end_s) = _check_sample(sample,
                                                                    index)
        where = f'sample {index} (qid={qid!r}, vid={vid!r})'
        video_name, caption_name = f'{vid}.npz', f'qid{qid}.npz'
        if video_name not in video_files:
            skip('missing_video_features',
                 f'{where}: no {osp.join(video_dir, video_name)}')
            continue
        if caption_name not in caption_files:
            skip('missing_caption_features',
                 f'{where}: no {osp.join(caption_dir, caption_name)}')
            continue
        if qid in seen_qids:
            skip('duplicate_qid', f'{where}: qid already written')
            continue
        if not end_s > start_s:
            skip('empty_interval', f'{where}: interval [{start_s:g}, '
                 f'{end_s:g}] has end <= start')
            continue
        try:
            video = load_video(osp.join(video_dir, video_name))
            caption = load_caption_embedding(
                osp.join(caption_dir, caption_name))
        except DataError as error:
            skip('unreadable_features', f'{where}: {error}')
            continue
        if caption.shape[0] != video.shape[1]:
            raise DataError(
                f'{where}: caption embedding dim {caption.shape[0]} differs '
                f'from the video feature dim {video.shape[1]}; relabelling '
                f'needs both in one aligned space (e.g. the projected '
                f'embeddings of one video-text model)')
        expected_clips = duration / clip_len
        if length_tolerance is not None and abs(len(video) - expected_clips) \
                > max(2.0, length_tolerance * expected_clips):
            skip('length_mismatch', f'{where}: {len(video)} clips but '
                 f'duration {duration:g} s implies {expected_clips:.1f}')
            continue
        # Whole clips only (see the module doc).
        num_clips = min(len(video), int(duration / clip_len))
        if num_clips == 0:
            skip('video_too_short', f'{where}: duration {duration:g} s is '
                 f'shorter than one {clip_len:g} s clip')
            continue
        interval = seconds_to_clip_interval((start_s, end_s), clip_len,
                                            num_clips)
        if interval is None:
            skip('interval_outside_video', f'{where}: interval [{start_s:g}'
                 f', {end_s:g}] overlaps none of the {num_clips} whole '
                 f'clips')
            continue
        similarity = clip_caption_similarity(video[:num_clips], caption)
        labels = relabel_moment(similarity, interval, clip_len)
        seen_qids.add(qid)
        lines.append(dict(qid=qid, query=query, duration=duration, vid=vid,
                          relevant_clip_ids=labels['relevant_clip_ids'],
                          saliency_scores=labels['saliency_scores'],
                          relevant_windows=labels['relevant_windows']))
        grades = np.asarray(labels['saliency_scores'], dtype=np.int64)[:, 0]
        grade_histogram += np.bincount(grades - 1, minlength=4)
        totals.update(windows=len(labels['relevant_windows']),
                      positive_clips=len(grades), clips=num_clips)

    summary = dict(num_samples=num_samples, num_written=len(lines),
                   skipped={r: skipped[r] for r in SKIP_REASONS
                            if skipped[r]},
                   skip_examples=skip_examples,
                   num_windows=totals['windows'],
                   num_positive_clips=totals['positive_clips'],
                   num_clips=totals['clips'],
                   grade_histogram=grade_histogram.tolist())
    return lines, summary


def format_intervid_mr_summary(summary: dict) -> str:
    """Human-readable report of a :func:`build_intervid_mr` summary."""
    written = summary['num_written']
    report = [f'samples in: {summary["num_samples"]}, written: {written}, '
              f'skipped: {summary["num_samples"] - written}']
    for reason, count in summary['skipped'].items():
        report.append(f'  skipped {count} x {reason} (first: '
                      f'{summary["skip_examples"][reason]})')
    if written:
        positive = summary['num_positive_clips']
        report.append(
            f'windows per sample: {summary["num_windows"] / written:.2f}; '
            f'positive clips per sample: {positive / written:.1f} '
            f'({positive / max(1, summary["num_clips"]):.1%} of the clips)')
        histogram = summary['grade_histogram']
        total = max(1, sum(histogram))
        report.append('grade histogram (positive clips): ' + ', '.join(
            f'{grade}: {count} ({count / total:.1%})'
            for grade, count in enumerate(histogram, start=1)))
    return '\n'.join(report)


def _check_interval(interval, length: int) -> Tuple[int, int]:
    start, end = (int(v) for v in interval)
    if not 0 <= start < end <= length:
        raise ValueError(f'interval [{start}, {end}) must be a non-empty '
                         f'range of clip indices within [0, {length})')
    return start, end


def _check_sample(sample: dict, index: int):
    """``(vid, qid, query, duration, (start, end))`` of one raw sample."""
    if not isinstance(sample, dict):
        raise DataError(f'sample {index}: expected a dict, got '
                        f'{type(sample).__name__}')
    missing = [key for key in RAW_SAMPLE_KEYS if sample.get(key) is None]
    if missing:
        raise DataError(f'sample {index}: missing key(s) {missing} (has '
                        f'{sorted(sample)})')
    vid, qid, query, duration, interval = (sample[key]
                                           for key in RAW_SAMPLE_KEYS)
    where = f'sample {index} (qid={qid!r})'
    if not isinstance(vid, str) or not vid:
        raise DataError(f'{where}: `vid` must be a non-empty string')
    if not isinstance(qid, (int, str)) or isinstance(qid, bool):
        raise DataError(f'{where}: `qid` must be an int or a string')
    if not isinstance(query, str):
        raise DataError(f'{where}: `query` must be a string')
    if not _is_finite_number(duration) or duration <= 0:
        raise DataError(f'{where}: `duration` must be a positive number of '
                        f'seconds, got {duration!r}')
    if (not isinstance(interval, (list, tuple)) or len(interval) != 2
            or not all(_is_finite_number(v) for v in interval)):
        raise DataError(f'{where}: `interval` must be [start, end] in '
                        f'seconds, got {interval!r}')
    return vid, qid, query, float(duration), (float(interval[0]),
                                              float(interval[1]))


def _is_finite_number(value) -> bool:
    return (isinstance(value, Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _list_dir(directory: str) -> set:
    """File names in ``directory``: one listing instead of a stat per file."""
    if not osp.isdir(directory):
        raise DataError(f'{directory}: feature directory not found')
    return set(os.listdir(directory))
