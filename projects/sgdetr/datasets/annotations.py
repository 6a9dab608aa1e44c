"""Reading and validating annotation files (JSON lines, QVHighlights format).

Every benchmark ships one JSON object per line with the keys
``qid, query, duration, vid`` and, depending on the dataset and split:

- ``relevant_windows`` ``[[start, end], ...]`` in seconds (MR ground truth);
- ``relevant_clip_ids`` ``[i, ...]`` and ``saliency_scores``
  ``[[a, b, c], ...]`` (QVHighlights: per-clip scores 0..4 of 3 annotators
  on the listed clips);
- ``label`` ``[[s_1, ..., s_A], ...]`` one row per annotated segment (TVSum:
  20 annotators scoring 1..5; YouTube-Highlights: one 0/1 column), plus
  ``domain``.

A field a split lacks is absent or ``null``.  :func:`parse_annotation` turns
one raw line into a canonical record with numpy arrays (or ``None``) and
raises :class:`DataError` naming ``file:line`` for anything malformed.
"""
import json
import math
from numbers import Real
from typing import Iterator, Optional, Tuple

import numpy as np

from sgdetr.errors import DataError

REQUIRED_KEYS = ('qid', 'query', 'duration', 'vid')


def decoded_lines(path: str, handle, error_type=DataError) -> Iterator[Tuple[int, str]]:
    """``(line_number, text)`` of every line of the binary file ``handle``,
    decoded as UTF-8 (a leading byte-order mark is dropped).

    Raises:
        error_type: a line that is not valid UTF-8, naming ``path:line``, the
            column and the offending bytes.
    """
    for line_number, raw in enumerate(handle, start=1):
        try:
            yield line_number, raw.decode('utf-8-sig' if line_number == 1 else 'utf-8')
        except UnicodeDecodeError as error:
            bad = raw[error.start:error.end]
            raise error_type(
                f'{path}:{line_number}: not valid UTF-8 (byte(s) {bad!r} at column '
                f'{error.start + 1}); JSON lines files must be UTF-8 encoded') from error


def read_jsonl(path: str, error_type=DataError,
               what: str = 'annotation file') -> Iterator[Tuple[int, dict]]:
    """Yield ``(line_number, record)`` for every non-blank line of ``path``:
    the one JSON-lines reader of the package (annotations, submissions).

    Args:
        error_type: the exception raised; the evaluation raises its own
            ``SubmissionError`` for the files it scores.
        what: what the file is, for the message when it cannot be opened.

    Raises:
        error_type: the file cannot be read, a line is not valid UTF-8 or not
            valid JSON, or a line is not a JSON object; the message names
            ``path:line``.
    """
    try:
        handle = open(path, 'rb')
    except OSError as error:
        raise error_type(f'{path}: cannot read {what} '
                         f'({error.strerror or error})') from error
    with handle:
        for line_number, line in decoded_lines(path, handle, error_type):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise error_type(f'{path}:{line_number}: malformed JSON '
                                 f'({error.msg} at column {error.colno})'
                                 ) from error
            if not isinstance(record, dict):
                raise error_type(f'{path}:{line_number}: expected a JSON object'
                                 f', got {type(record).__name__}')
            yield line_number, record


def _array(value, where: str, field: str, ndim: Tuple[int, ...],
           dtype=np.float64) -> np.ndarray:
    """``value`` as a finite numeric array whose ndim is one of ``ndim``."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise DataError(f'{where}: `{field}` is not a numeric (rectangular) '
                        f'array: {str(value)[:80]}') from error
    if array.ndim not in ndim:
        allowed = ' or '.join(map(str, ndim))
        raise DataError(f'{where}: `{field}` must have {allowed} '
                        f'dimension(s), got shape {array.shape}')
    if not np.isfinite(array).all():
        raise DataError(f'{where}: `{field}` contains NaN or Inf')
    return array


def parse_annotation(raw: dict, where: str, clip_len: Optional[float],
                     window_tolerance: float = 0.5) -> dict:
    """Validate one raw annotation and return its canonical record.

    Args:
        raw: one decoded JSON line.
        where: ``"file:line"``, used in every error message.
        clip_len: seconds per feature clip, used to check clip ids; ``None``
            when the dataset derives it from ``label`` (then clip ids are not
            checked).
        window_tolerance: seconds a window may reach outside
            ``[0, duration]`` (it is then clipped); beyond that it is an error.

    Returns:
        dict with ``qid`` (int or str, as in the file), ``vid`` (str),
        ``query`` (str), ``duration`` (float seconds) and

        - ``windows``: (K, 2) float64 seconds clipped to [0, duration], or
          ``None`` when the line has no (or an empty) ``relevant_windows``;
        - ``saliency_clip_ids``: (M,) int64 and ``saliency_scores``: (M, A)
          float32, or both ``None``;
        - ``label``: (R, A) float32 per annotated segment, or ``None``;
        - ``domain``: str, only if the line has one.

    Raises:
        DataError: a required key is missing, a value has the wrong type or
            shape, a window has ``end <= start`` or lies outside
            ``[0, duration]`` by more than ``window_tolerance``, clip ids and
            scores disagree, or a clip id lies beyond the video.
    """
    missing = [key for key in REQUIRED_KEYS if raw.get(key) is None]
    if missing:
        raise DataError(f'{where}: missing key(s) {missing} '
                        f'(has {sorted(raw)})')
    qid, vid, query, duration = (raw['qid'], raw['vid'], raw['query'],
                                 raw['duration'])
    where = f'{where} (qid={qid!r})'
    if not isinstance(qid, (int, str)) or isinstance(qid, bool):
        raise DataError(f'{where}: `qid` must be an int or a string, got '
                        f'{type(qid).__name__}')
    if not isinstance(vid, str) or not vid:
        raise DataError(f'{where}: `vid` must be a non-empty string, got '
                        f'{vid!r}')
    if not isinstance(query, str):
        raise DataError(f'{where}: `query` must be a string, got '
                        f'{type(query).__name__}')
    if (not isinstance(duration, Real) or isinstance(duration, bool)
            or not math.isfinite(duration) or duration <= 0):
        raise DataError(f'{where}: `duration` must be a positive number of '
                        f'seconds, got {duration!r}')
    duration = float(duration)
    record = dict(qid=qid, vid=vid, query=query, duration=duration,
                  windows=None, saliency_clip_ids=None, saliency_scores=None,
                  label=None)
    if isinstance(raw.get('domain'), str):
        record['domain'] = raw['domain']

    raw_windows = raw.get('relevant_windows')
    if raw_windows is not None and len(raw_windows) > 0:
        windows = _array(raw_windows, where, 'relevant_windows', (2, ))
        if windows.shape[1] != 2:
            raise DataError(f'{where}: `relevant_windows` must be [[start, '
                            f'end], ...], got shape {windows.shape}')
        inverted = np.flatnonzero(windows[:, 1] <= windows[:, 0])
        if inverted.size:
            k = int(inverted[0])
            raise DataError(f'{where}: window {k} {windows[k].tolist()} has '
                            f'end <= start')
        outside = np.flatnonzero((windows[:, 0] < -window_tolerance)
                                 | (windows[:, 1]
                                    > duration + window_tolerance))
        if outside.size:
            k = int(outside[0])
            raise DataError(f'{where}: window {k} {windows[k].tolist()} lies '
                            f'outside [0, duration={duration:g}] by more than '
                            f'{window_tolerance:g} s')
        record['windows'] = windows.clip(0.0, duration)

    clip_ids = raw.get('relevant_clip_ids')
    scores = raw.get('saliency_scores')
    if (clip_ids is None) != (scores is None):
        raise DataError(f'{where}: `relevant_clip_ids` and `saliency_scores` '
                        f'must be given together')
    if clip_ids is not None:
        clip_ids = _array(clip_ids, where, 'relevant_clip_ids', (1, ),
                          dtype=np.int64)
        scores = _array(scores, where, 'saliency_scores', (2, ),
                        dtype=np.float32) if len(scores) else np.zeros(
                            (0, 1), np.float32)
        if len(clip_ids) != len(scores):
            raise DataError(f'{where}: {len(clip_ids)} relevant_clip_ids but '
                            f'{len(scores)} saliency_scores rows')
        if clip_ids.size and clip_ids.min() < 0:
            raise DataError(f'{where}: negative clip id {clip_ids.min()}')
        if clip_ids.size and clip_len is not None:
            num_clips = math.ceil(duration / clip_len - 1e-6)
            if clip_ids.max() >= num_clips + 1:
                raise DataError(f'{where}: clip id {clip_ids.max()} is beyond'
                                f' the video ({duration:g} s = {num_clips} '
                                f'clips of {clip_len:g} s)')
        if clip_ids.size:
            record['saliency_clip_ids'] = clip_ids
            record['saliency_scores'] = scores

    label = raw.get('label')
    if label is not None and len(label) > 0:
        label = _array(label, where, 'label', (1, 2), dtype=np.float32)
        record['label'] = label[:, None] if label.ndim == 1 else label
    return record
