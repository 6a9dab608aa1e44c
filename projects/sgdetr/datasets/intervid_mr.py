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

:func:`relabel_moment` does 2-4 for one sample and :func:`segment_window`
places the segment of at most 150 s a sample is trimmed to.  The builder of
whole annotation files (caption filter, trimming, feature files, summary) is
:mod:`.intervid_mr_builder`; its lines are in the QVHighlights release
format, so the result trains with :class:`~sgdetr.datasets.QVHighlightsDataset`
like any QVHighlights split (command line: ``tools/data/make_intervid_mr.py``).

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
  positive windows (the clips being graded; ``grade_stats='positives'``),
  with the intervals exactly as written: ``(mu + 1.5 sigma, S_max]`` -> 4,
  ``(mu, mu + 1.5 sigma]`` -> 3, ``(mu - 1.5 sigma, mu]`` -> 2,
  ``[S_min, mu - 1.5 sigma]`` -> 1.  Equal scores (``sigma = 0``) all fall
  in the closed interval of grade 1.  Only with these statistics do the four
  intervals cover every graded clip: S_max is the largest graded score.
  ``grade_stats='annotated'`` takes ``mu``, ``sigma`` of S_pos (the clips of
  the annotated interval, as eq. 17) instead; a positive clip scoring above
  ``max(S_pos)`` then gets grade 4.
- QVHighlights has 3 annotators per clip; the single grade is repeated 3
  times (``saliency_scores: [[g, g, g], ...]``), so every metric and loss
  that averages or thresholds annotators sees the grade itself.
- Seconds -> clips: a clip belongs to the annotated interval when the
  interval covers more than half of it (the clip it overlaps most when none
  is), the rule used for binary saliency elsewhere in this package.
- Only the whole clips of a video, ``int(duration / clip_len)``, are
  relabelled: the official QVHighlights evaluation counts no partial last
  clip, so windows and clip ids never reach past the duration.
- Segments (the paper: "no longer than 150 seconds ... created by trimming
  the original videos around the time intervals associated with the
  captions"): a video of more than ``max_clips`` whole clips is cut to
  exactly ``max_clips`` clips (75 x 2 s = 150 s, the length of every
  QVHighlights video) that contain the whole annotated interval.  Where the
  segment starts is drawn uniformly among the clip-aligned positions that
  contain the interval, from a generator seeded by ``(seed, qid)``: a
  rebuild gives the same segments, and the annotated moment lands anywhere
  in the segment, not always in its middle (a centred segment would teach
  the model that moments sit mid-video).  ``placement='centre'`` centres it
  instead (moved inwards at the video's ends).  A shorter video is kept
  whole.
"""
import hashlib
import zipfile
from typing import Dict, Optional, Tuple

import numpy as np

from sgdetr.errors import DataError
from .features import l2_normalize, read_npz_array
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
#: eq. 18 statistics: of the graded clips, or of the annotated interval.
GRADE_STATS = ('positives', 'annotated')
#: segment placements of :func:`segment_window`.
PLACEMENTS = ('random', 'centre')


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


def saliency_grades(scores: np.ndarray,
                    reference: Optional[np.ndarray] = None) -> np.ndarray:
    """Grade 1..4 of every positive clip by eq. 18.

    ``mu``, ``sigma`` are the mean and (population) std of ``reference``
    (default: ``scores`` themselves): 4 on ``(mu + 1.5 sigma, S_max]``, 3 on
    ``(mu, mu + 1.5 sigma]``, 2 on ``(mu - 1.5 sigma, mu]``, 1 on
    ``[S_min, mu - 1.5 sigma]`` (every score lies at or above S_min, being
    positive; a score above ``max(reference)`` gets 4).

    Args:
        scores: (P,) similarity of the P positive clips, P >= 1.
        reference: (R,) scores whose statistics set the boundaries, R >= 1.

    Returns:
        (P,) int64 in 1..4; with equal reference scores (sigma = 0) every
        score at most their value gets 1 (only the closed interval of grade
        1 holds mu), every higher one 4.
    """
    scores = np.asarray(scores, dtype=np.float64)
    reference = scores if reference is None else np.asarray(
        reference, dtype=np.float64)
    for name, values in (('(P,) scores', scores),
                         ('(R,) reference', reference)):
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f'need {name} with at least one value, got '
                             f'shape {values.shape}')
    if _is_constant(reference):
        mu, sigma = reference[0], 0.0
    else:
        mu, sigma = reference.mean(), reference.std()
    # Each strict comparison passes one left-open boundary of eq. 18.
    return (1 + (scores > mu - GRADE_STDS * sigma).astype(np.int64)
            + (scores > mu) + (scores > mu + GRADE_STDS * sigma))


def relabel_moment(similarity: np.ndarray, interval: Tuple[int, int],
                   clip_len: float = 2.0,
                   grade_stats: str = 'positives') -> Dict[str, list]:
    """New MR windows and HD grades of one sample from its clip similarity.

    Args:
        similarity: (L,) clip-caption similarity of the clips to label (the
            whole clips of the video or segment).
        interval: ``[start, end)`` clip indices of the annotated interval,
            ``0 <= start < end <= L``.
        clip_len: seconds per clip.
        grade_stats: ``'positives'`` (eq. 18 statistics of the new positive
            clips) or ``'annotated'`` (of S_pos); see the module doc.

    Returns:
        JSON-ready QVHighlights fields (see the module doc for the rules):

        - ``relevant_windows``: (K, 2) list, seconds ``[start, end]`` of the
          maximal runs of positive clips (``S > S_min``);
        - ``relevant_clip_ids``: (P,) list of int, the positive clips;
        - ``saliency_scores``: (P, 3) list of int, the eq. 18 grade of each
          positive clip, once per QVHighlights annotator.
    """
    if grade_stats not in GRADE_STATS:
        raise ValueError(f'grade_stats must be one of {GRADE_STATS}, got '
                         f'{grade_stats!r}')
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
    reference = (similarity[start:end] if grade_stats == 'annotated'
                 else None)
    grades = saliency_grades(similarity[clip_ids], reference)
    return dict(
        relevant_windows=(true_runs(positive) * float(clip_len)).tolist(),
        relevant_clip_ids=clip_ids.tolist(),
        saliency_scores=np.repeat(grades[:, None], NUM_ANNOTATORS,
                                  axis=1).tolist())


def segment_window(num_clips: int, interval: Tuple[int, int],
                   max_clips: int, placement: str = 'random',
                   seed: int = 0, qid=None) -> Tuple[int, int]:
    """``[start, end)`` clips of the segment a sample is trimmed to.

    Args:
        num_clips: L, the whole clips of the video.
        interval: ``[start, end)`` clips of the annotated interval, at most
            ``max_clips`` long.
        max_clips: the longest segment (75 for 150 s of 2 s clips).
        placement: ``'random'`` (start drawn from ``(seed, qid)``) or
            ``'centre'``; see the module doc.
        seed, qid: the draw of ``'random'``: a function of both only.

    Returns:
        ``(0, L)`` when ``L <= max_clips``; else a window of exactly
        ``max_clips`` clips inside ``[0, L)`` that contains the interval.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f'placement must be one of {PLACEMENTS}, got '
                         f'{placement!r}')
    start, end = _check_interval(interval, num_clips)
    if max_clips < end - start:
        raise ValueError(f'interval [{start}, {end}) is longer than the '
                         f'{max_clips}-clip segment')
    if num_clips <= max_clips:
        return 0, num_clips
    # Every start in [lowest, highest] keeps the interval and the video's
    # ends inside the segment.
    lowest, highest = max(0, end - max_clips), min(start,
                                                   num_clips - max_clips)
    if placement == 'centre':
        first = int(np.clip(np.floor((start + end - max_clips) / 2 + 0.5),
                            lowest, highest))
    else:
        first = lowest + int(_sample_rng(seed, qid).integers(
            highest - lowest + 1))
    return first, first + max_clips


def _sample_rng(seed: int, qid) -> np.random.Generator:
    """A generator of ``(seed, qid)`` alone (``hash()`` of a str is salted
    per process, so it would not give the same segments on a rebuild)."""
    key = hashlib.blake2b(f'{int(seed)}/{qid!r}'.encode('utf-8'),
                          digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(key, 'little'))


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


def _check_interval(interval, length: int) -> Tuple[int, int]:
    start, end = (int(v) for v in interval)
    if not 0 <= start < end <= length:
        raise ValueError(f'interval [{start}, {end}) must be a non-empty '
                         f'range of clip indices within [0, {length})')
    return start, end


