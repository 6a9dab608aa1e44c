"""Submission files in the QVHighlights server format, and the file I/O of
the evaluation (JSON lines with precise error messages, atomic writes).

One JSON line per query::

    {"qid": 2579, "query": "...", "vid": "...",
     "pred_relevant_windows": [[start_s, end_s, score], ...],
     "pred_saliency_scores": [s_0, ..., s_{L-1}]}

Windows are in seconds, clipped to [0, duration], in the order the model
ranks them (the server reads the first 10 in the order given: the released
SG-DETR ranks by foreground probability and scores by sqrt(p * IoU)), at
most 10 unless asked otherwise; one saliency score per clip as the benchmark
counts them (QVHighlights: ``int(duration / 2)``).  The server expects
``hl_val_submission.jsonl`` and ``hl_test_submission.jsonl`` zipped together.
Numbers are written with Python's shortest round-trip repr, so the file
scores exactly as the predictions it came from.
"""
import difflib
import json
import math
import os.path as osp
import zipfile
from numbers import Real
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.engine.atomic_local_backend import atomic_output, atomic_write_text

SUBMISSION_FILES = {'val': 'hl_val_submission.jsonl',
                    'test': 'hl_test_submission.jsonl'}
SUBMISSION_ZIP = 'submission.zip'
MAX_WINDOWS = 10


class SubmissionError(ValueError):
    """A submission or annotation file that cannot be scored as it is."""


# --------------------------------------------------------------------------
# file I/O


def load_jsonl(path: str) -> List[dict]:
    """Read a JSON-lines file of objects (blank lines are skipped).

    Raises:
        SubmissionError: unreadable file, or a line that is not UTF-8 or not
            a JSON object; the message names ``path:line``.
    """
    return [entry for _, entry in load_jsonl_lines(path)]


def load_jsonl_lines(path: str) -> List[Tuple[int, dict]]:
    """:func:`load_jsonl` with the line number of every entry."""
    entries = []
    for line_number, entry in read_jsonl(path, SubmissionError, 'file'):
        if 'qid' not in entry:
            raise SubmissionError(f'{path}:{line_number}: expected a JSON '
                                  'object with a "qid"')
        entries.append((line_number, entry))
    return entries


def dump_jsonl(entries: Iterable[dict], path: str) -> None:
    """Write one JSON object per line, atomically."""
    atomic_write_text(''.join(json.dumps(entry) + '\n' for entry in entries), path)


def dump_json(obj: Any, path: str, indent: Optional[int] = 4) -> None:
    """Write a JSON document atomically (keys in insertion order)."""
    atomic_write_text(json.dumps(obj, indent=indent) + '\n', path)


# --------------------------------------------------------------------------
# building entries


def _to_numpy(value) -> np.ndarray:
    """Tensor / array / list -> float64 numpy array (no torch import needed)."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def format_windows(spans, scores, duration: Optional[float] = None,
                   max_windows: Optional[int] = MAX_WINDOWS) -> List[List[float]]:
    """Windows in the submission format.

    Args:
        spans: (M, 2) [start, end] seconds.  scores: (M,).
        duration: clip windows to [0, duration] when given.
        max_windows: keep the first ones (None: all).

    Returns:
        ``[[start, end, score], ...]`` in the given order.
    """
    spans = _to_numpy(spans).reshape(-1, 2)
    scores = _to_numpy(scores).reshape(-1)
    if len(spans) != len(scores):
        raise SubmissionError(f'{len(spans)} spans but {len(scores)} scores')
    if duration is not None:
        spans = np.clip(spans, 0.0, float(duration))
    return np.concatenate([spans, scores[:, None]], axis=1)[:max_windows].tolist()


def _field(sample, name: str, default=None):
    """``name`` of a data sample given as a dict or a data element."""
    if isinstance(sample, dict):
        return sample.get(name, default)
    if name in getattr(sample, 'metainfo', {}):
        return sample.metainfo[name]
    return getattr(sample, name, default)


def prediction_to_submission(sample, max_windows: Optional[int] = MAX_WINDOWS,
                             instances_field: str = 'pred_instances') -> Dict[str, Any]:
    """One predicted data sample -> one submission entry.

    Args:
        sample: a ``MomentDataSample`` or its ``to_dict()`` (what MMEngine
            hands to metrics): metainfo ``qid, vid, query, duration``,
            ``pred_instances.spans`` (M, 2) seconds + ``.scores`` (M,) and/or
            ``pred_saliency`` (L,).
        max_windows: windows kept (the first ones).
        instances_field: the sample's field with the windows
            (``pred_instances_fusion`` for another head's).

    Returns:
        ``{qid, query, vid[, pred_relevant_windows][, pred_saliency_scores]}``.
    """
    qid = _field(sample, 'qid')
    if qid is None:
        raise SubmissionError('a predicted sample has no "qid" in its metainfo')
    entry = {'qid': qid, 'query': _field(sample, 'query'),
             'vid': _field(sample, 'vid')}
    instances = _field(sample, instances_field)
    if instances is not None:
        spans = _field(instances, 'spans')
        scores = _field(instances, 'scores')
        if spans is not None and scores is not None:
            entry['pred_relevant_windows'] = format_windows(
                spans, scores, _field(sample, 'duration'), max_windows)
    saliency = _field(sample, 'pred_saliency')
    if saliency is not None:
        entry['pred_saliency_scores'] = _to_numpy(saliency).reshape(-1).tolist()
    return entry


def dedupe_by_qid(entries: Iterable[dict]) -> List[dict]:
    """Keep the first entry of every qid (distributed samplers pad the last
    batch with repeated samples, so gathered results may repeat a query)."""
    kept = {}
    for entry in entries:
        kept.setdefault(entry['qid'], entry)
    return list(kept.values())


def samples_to_submission(samples: Iterable, max_windows: Optional[int] = MAX_WINDOWS
                          ) -> List[dict]:
    """Predicted data samples -> submission entries, one per qid."""
    return dedupe_by_qid(prediction_to_submission(sample, max_windows)
                         for sample in samples)


# --------------------------------------------------------------------------
# checking and writing


def check_submission_qids(entries: Sequence[dict],
                          expected_qids: Iterable) -> None:
    """Every expected qid present exactly once, and nothing else.

    Raises:
        SubmissionError: listing missing, duplicate and unknown qids.
    """
    expected = list(expected_qids)
    expected_set = set(expected)
    seen, duplicates = set(), []
    for entry in entries:
        if entry['qid'] in seen:
            duplicates.append(entry['qid'])
        seen.add(entry['qid'])
    missing = [qid for qid in expected if qid not in seen]
    unknown = [qid for qid in seen if qid not in expected_set]
    problems = []
    for label, qids in (('missing', missing), ('duplicate', duplicates),
                        ('not in the split', unknown)):
        if qids:
            shown = ', '.join(map(repr, qids[:20]))
            more = f' ... (+{len(qids) - 20})' if len(qids) > 20 else ''
            problems.append(f'{len(qids)} {label}: [{shown}{more}]')
    if problems:
        raise SubmissionError(f'the submission does not cover the split '
                              f'({len(expected)} queries) exactly once: '
                              + '; '.join(problems))


def fit_saliency(scores, clips: int) -> List[float]:
    """One score per clip of the video as the benchmark counts them: scores of
    clips past its end (a partial last clip, padding) are dropped, and clips
    the features do not reach take the lowest score given, so they rank last."""
    scores = _to_numpy(scores).reshape(-1)
    if len(scores) < clips:
        low = scores.min() if len(scores) else 0.0
        scores = np.concatenate([scores, np.full(clips - len(scores), low)])
    return scores[:clips].tolist()


def normalize_entry(entry: dict, annotation: Optional[dict] = None,
                    max_windows: Optional[int] = MAX_WINDOWS,
                    dataset: Optional[str] = None) -> dict:
    """An entry in the official layout: official keys only, windows in their
    order, at most ``max_windows``, clipped to the annotated duration when
    ``annotation`` is given (which also fills a missing query / vid), and one
    saliency score per clip as ``dataset``'s metric counts them
    (:func:`fit_saliency`; QVHighlights: ``int(duration / 2)``)."""
    annotation = annotation or {}
    out = {'qid': entry['qid'],
           'query': entry.get('query', annotation.get('query')),
           'vid': entry.get('vid', annotation.get('vid'))}
    if entry.get('pred_relevant_windows') is not None:
        windows = entry['pred_relevant_windows']
        array = _to_numpy(windows) if len(windows) else np.zeros((0, 3))
        if array.ndim != 2 or array.shape[1] < 3:
            raise SubmissionError(f'qid {entry["qid"]!r}: windows must be '
                                  '[start, end, score] lists')
        out['pred_relevant_windows'] = format_windows(
            array[:, :2], array[:, 2], annotation.get('duration'), max_windows)
    if entry.get('pred_saliency_scores') is not None:
        clips = num_clips(annotation, dataset)
        scores = _to_numpy(entry['pred_saliency_scores']).reshape(-1)
        out['pred_saliency_scores'] = (scores.tolist() if clips is None
                                       else fit_saliency(scores, clips))
    return out


def write_submission(entries: Sequence[dict], path: str,
                     annotations: Union[None, str, Sequence[dict]] = None,
                     max_windows: Optional[int] = MAX_WINDOWS,
                     check: bool = True, dataset: Optional[str] = None) -> List[dict]:
    """Normalise and write a submission file atomically.

    Args:
        entries: submission entries (or anything :func:`normalize_entry`
            accepts).
        path: the ``.jsonl`` to write.
        annotations: the split's annotation file or its entries; used to
            clip windows to each video's duration and, with ``check``, to
            require every qid of the split exactly once.
        max_windows: windows per query (None: all).
        check: verify the qids against ``annotations``.
        dataset: the metric family (``'qvhighlights'``, ``'youtube'``,
            ``'tvsum'``) whose clip count the saliency lists are fitted to;
            None keeps them as they are.

    Returns:
        The entries as written.
    """
    if isinstance(annotations, str):
        annotations = load_jsonl(annotations)
    by_qid = {a['qid']: a for a in annotations} if annotations is not None else {}
    if check and annotations is not None:
        check_submission_qids(entries, (a['qid'] for a in annotations))
    normalized = [normalize_entry(entry, by_qid.get(entry['qid']), max_windows, dataset)
                  for entry in entries]
    dump_jsonl(normalized, path)
    return normalized


def zip_submission(submission_dir: str, zip_path: Optional[str] = None,
                   files: Sequence[str] = tuple(SUBMISSION_FILES.values())) -> str:
    """Zip the val and test submission files for the server, atomically.

    Args:
        submission_dir: folder holding ``hl_val_submission.jsonl`` and
            ``hl_test_submission.jsonl``.
        zip_path: output (default ``submission_dir/submission.zip``).
        files: the file names to pack (at the archive root).

    Returns:
        The path of the zip.
    """
    zip_path = zip_path or osp.join(submission_dir, SUBMISSION_ZIP)
    missing = [name for name in files
               if not osp.isfile(osp.join(submission_dir, name))]
    if missing:
        raise SubmissionError(f'{submission_dir}: cannot zip the submission, '
                              f'missing {missing}')
    with atomic_output(zip_path) as tmp_path:
        with zipfile.ZipFile(tmp_path, 'w', compression=zipfile.ZIP_DEFLATED) as archive:
            for name in files:
                archive.write(osp.join(submission_dir, name), arcname=name)
    return zip_path


# --------------------------------------------------------------------------
# validating a submission before it is scored

#: the predictions each metric family scores, and the ground truth each needs
_SCORED = {
    'qvhighlights': {'pred_relevant_windows': ('"relevant_windows"',
                                               lambda a: bool(a.get('relevant_windows'))),
                     'pred_saliency_scores': ('"relevant_clip_ids" + "saliency_scores"',
                                              lambda a: a.get('relevant_clip_ids') is not None
                                              and a.get('saliency_scores') is not None)},
    'charades': {'pred_relevant_windows': ('"relevant_windows"',
                                           lambda a: bool(a.get('relevant_windows')))},
    'youtube': {'pred_saliency_scores': ('"label"', lambda a: a.get('label') is not None)},
}
_SCORED['tacos'], _SCORED['tvsum'] = _SCORED['charades'], _SCORED['youtube']
#: the prediction fields each metric family can score
SCORABLE_FIELDS = {dataset: tuple(fields) for dataset, fields in _SCORED.items()}
#: how many offending entries an error message lists
MAX_LISTED = 20


def scored_fields(ground_truth: Sequence[dict], dataset: str = 'qvhighlights',
                  source: str = 'the ground truth') -> List[str]:
    """The prediction fields ``dataset`` scores against ``ground_truth``: those
    whose ground truth the annotations hold.

    Raises:
        SubmissionError: the annotations hold none (e.g. a prediction file
            given as the ground truth).
    """
    fields = [field for field, (_, present) in _SCORED[dataset].items()
              if any(present(entry) for entry in ground_truth)]
    if not fields:
        needed = ' or '.join(name for name, _ in _SCORED[dataset].values())
        swapped = (' It holds predictions: are the prediction and annotation files swapped?'
                   if any(k.startswith('pred_') for e in ground_truth[:1] for k in e) else '')
        raise SubmissionError(f'{source}: no query has the ground truth that {dataset} '
                              f'scores ({needed}); nothing can be scored.{swapped}')
    return fields


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _window_problem(windows, with_score: bool) -> Optional[str]:
    """Why ``windows`` is not a list of [start, end(, score)] of finite
    numbers with start <= end, or None."""
    width = '[start, end, score]' if with_score else '[start, end(, score)]'
    if not isinstance(windows, list):
        return f'"pred_relevant_windows" must be a list of {width}, got {str(windows)[:60]}'
    if with_score and not windows:
        return '"pred_relevant_windows" is empty'
    for k, window in enumerate(windows):
        if (not isinstance(window, list) or not all(map(_is_number, window))
                or len(window) not in ((3, ) if with_score else (2, 3))):
            return f'window {k} {str(window)[:60]} is not {width} numbers'
        if not all(math.isfinite(v) for v in window):
            return f'window {k} {window} holds NaN or Inf'
        if window[1] < window[0]:
            return f'window {k} {window} ends before it starts'
    return None


def _missing(entry: dict, field: str) -> str:
    others = [k for k in entry if isinstance(k, str) and k not in _SCORED['qvhighlights']]
    close = difflib.get_close_matches(field, others, n=1)
    return f'no "{field}"' + (f' (did you mean "{close[0]}"?)' if close else '')


def validate_submission(entries: Sequence[dict], ground_truth: Sequence[dict],
                        dataset: str = 'qvhighlights',
                        lines: Optional[Sequence[int]] = None,
                        source: str = 'the submission',
                        gt_source: str = 'the ground truth') -> List[str]:
    """Check a submission before it is scored; return warnings.

    The fields checked are those :func:`scored_fields` gives: every metric
    the ground truth supports must be computable, so each of them is
    required on every line.

    Errors, each naming the qid (and line): a qid that is not an int or a
    string; a qid given more than once (the official QVHighlights server
    would pool the windows of the repeated entries into one ranking, which
    inflates MR mAP); a missing field (with the nearest key the entry has);
    windows that are not lists of numbers (strings...), hold NaN/Inf or end
    before they start; saliency scores that are not a list of finite numbers
    or fewer than the video's clips (the missing clips would be scored as
    zeros, or the positives among them not counted).

    Warnings, for what the official evaluation accepts, saying how it is
    scored: a saliency list longer than the video's clips, windows beyond
    the 10 that QVHighlights scores, windows outside ``[0, duration]``.

    Args:
        entries: the submission.  ground_truth: the split's annotations.
        dataset: 'qvhighlights', 'charades', 'tacos', 'youtube' or 'tvsum'.
        lines: line number of every entry in its file (for messages).
        source, gt_source: name the submission and the annotations in messages.

    Raises:
        SubmissionError: listing every offending entry.
    """
    fields = scored_fields(ground_truth, dataset, gt_source)
    by_qid = {}
    for entry in ground_truth:
        by_qid.setdefault(entry.get('qid'), entry)
    problems, first_line = {}, {}  # entry index -> (where, its problems)
    too_long, too_many, outside = [], [], []
    for index, entry in enumerate(entries):
        qid = entry.get('qid')
        where = (f'line {lines[index]} ' if lines is not None else '') + f'(qid {qid!r})'
        found = problems.setdefault(index, (where, []))[1]
        if not isinstance(qid, (int, str)) or isinstance(qid, bool):
            found.append('"qid" must be an int or a string')
            continue
        if qid in first_line:
            found.append(f'qid given again (first on {first_line[qid]}): the official server '
                         'would pool the windows of both entries, which inflates mAP; keep '
                         'one entry per qid')
            continue
        first_line[qid] = f'line {lines[index]}' if lines is not None else f'entry {index}'
        annotation = by_qid.get(qid, {})
        found += [_missing(entry, field) for field in fields if entry.get(field) is None]
        windows = entry.get('pred_relevant_windows')
        if 'pred_relevant_windows' in fields and windows is not None:
            problem = _window_problem(windows, with_score=dataset == 'qvhighlights')
            if problem is not None:
                found.append(problem)
            else:
                if dataset == 'qvhighlights' and len(windows) > MAX_WINDOWS:
                    too_many.append((qid, len(windows)))
                duration = annotation.get('duration')
                if _is_number(duration) and any(w[0] < 0 or w[1] > duration
                                                for w in windows):
                    outside.append((qid, duration))
        saliency = entry.get('pred_saliency_scores')
        if 'pred_saliency_scores' in fields and saliency is not None:
            expected = num_clips(annotation, dataset)
            if (not isinstance(saliency, list) or not saliency
                    or not all(map(_is_number, saliency))):
                found.append('"pred_saliency_scores" must be a non-empty list of numbers, '
                             f'got {str(saliency)[:60]}')
            elif not all(math.isfinite(v) for v in saliency):
                found.append('"pred_saliency_scores" holds NaN or Inf')
            elif expected is not None and len(saliency) < expected:
                found.append(f'"pred_saliency_scores" has {len(saliency)} scores for the '
                             f'{expected} clips of the video; give one per clip')
            elif expected is not None and len(saliency) > expected:
                too_long.append((qid, len(saliency), expected))
    problems = [f'{where}: {"; ".join(found)}' for where, found in problems.values() if found]
    if problems:
        listed = '\n  '.join(problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        raise SubmissionError(f'{source}: {len(problems)} entr(ies) cannot be scored:\n  '
                              f'{listed}' + (f'\n  ... and {more} more' if more > 0 else ''))
    return _warnings(dataset, source, too_long, too_many, outside)


def num_clips(annotation: dict, dataset: Optional[str]) -> Optional[int]:
    """Clips of the annotated video, as ``dataset``'s metric counts them
    (None where it scores no saliency or the annotation does not say)."""
    if dataset == 'qvhighlights':
        duration = annotation.get('duration')
        return int(duration / 2) if _is_number(duration) else None
    if dataset in ('youtube', 'tvsum'):
        label = annotation.get('label')
        return len(label) if isinstance(label, list) else None
    return None


def _examples(items, render) -> str:
    shown = ', '.join(render(item) for item in items[:5])
    return shown + (f', ... (+{len(items) - 5})' if len(items) > 5 else '')


def _warnings(dataset, source, too_long, too_many, outside) -> List[str]:
    warnings = []
    if too_long:
        how = ('HIT@1 takes the best of the scores as given, a clip past the video being a '
               'miss; AP reads the video\'s clips only' if dataset == 'qvhighlights' else
               'the scores past the video\'s clips are ignored')
        warnings.append(
            f'{source}: {len(too_long)} entr(ies) have more saliency scores than the '
            f'video has clips ('
            + _examples(too_long, lambda w: f'qid {w[0]!r}: {w[1]} scores, {w[2]} clips')
            + f'); scored as the official evaluation does: {how}')
    if too_many:
        warnings.append(
            f'{source}: {len(too_many)} entr(ies) have more than {MAX_WINDOWS} windows ('
            + _examples(too_many, lambda w: f'qid {w[0]!r}: {w[1]}')
            + f'); only the first {MAX_WINDOWS}, in the order given, are scored')
    if outside:
        warnings.append(
            f'{source}: {len(outside)} entr(ies) have windows outside [0, duration] ('
            + _examples(outside, lambda w: f'qid {w[0]!r}: duration {w[1]:g} s')
            + '); scored as given, as the official evaluation does (no clipping)')
    return warnings


__all__ = [
    'SubmissionError', 'load_jsonl', 'load_jsonl_lines', 'validate_submission',
    'scored_fields', 'num_clips', 'SCORABLE_FIELDS',
    'dump_jsonl', 'dump_json',
    'format_windows', 'prediction_to_submission', 'samples_to_submission',
    'dedupe_by_qid', 'check_submission_qids', 'normalize_entry', 'fit_saliency',
    'write_submission', 'zip_submission', 'SUBMISSION_FILES', 'SUBMISSION_ZIP',
    'MAX_WINDOWS'
]


def zip_submission_if_complete(submission_dir: str) -> Optional[str]:
    """Zip the server submission when both the val and the test files exist
    (e.g. after ``tools/test.py --split val`` and ``--split test``); else None."""
    if all(osp.isfile(osp.join(submission_dir, name))
           for name in SUBMISSION_FILES.values()):
        return zip_submission(submission_dir)
    return None
