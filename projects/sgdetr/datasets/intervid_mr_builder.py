"""InterVid-MR annotation files from raw caption samples (paper §4.3.2).

One raw sample (a line of the input JSONL) has ``vid``, ``qid``, ``query``,
``duration`` (seconds) and ``interval`` ``[start, end]`` (seconds), the one
interval its caption was annotated with.  :class:`InterVidMRBuilder` takes
the samples one at a time, in input order, and for each

1. drops a meaningless caption (:mod:`.caption_filter`);
2. skips a sample whose features are missing, unreadable or of the wrong
   length, or whose interval is empty, outside the video or longer than a
   segment (reasons: :data:`SKIP_REASONS`);
3. trims the video to a segment of at most ``max_duration`` seconds around
   the interval (:func:`~.intervid_mr.segment_window`) and writes the
   segment's clips to ``segment_dir/{segment vid}.npz`` (key ``features``;
   ``{segment vid}.pt`` with ``feature_layout='released'``), so that the
   dataset reads one file per ``vid`` as for QVHighlights;
4. relabels the segment (:func:`~.intervid_mr.relabel_moment`) and returns
   the QVHighlights-format line, with windows, clip ids and duration in the
   segment's time.

A trimmed line names its segment ``{vid}_{start:.1f}_{end:.1f}`` (seconds in
the source video, as QVHighlights names its 150 s cuts) and records where it
comes from: ``source_vid``, ``source_window`` (seconds), ``clip_range``
(``[first, last + 1)`` clips of the source features) and
``annotated_window`` (the raw interval in segment seconds, clipped to the
segment).  ``max_duration=None`` keeps whole videos and their ``vid`` (for
features extracted per segment already).

Everything the builder decides depends only on the samples before it, on
the features and on its options; its counters are a JSON-ready dict
(:meth:`InterVidMRBuilder.state_dict`) and its memory of written captions and
qids is rebuilt from the written lines (:meth:`InterVidMRBuilder.add_written`):
that is what lets ``tools/data/make_intervid_mr.py`` resume a killed build
and end with the file an uninterrupted build writes.
"""
import math
import os
import os.path as osp
from collections import Counter
from functools import lru_cache
from numbers import Real
from typing import Iterable, List, Optional, Tuple

import numpy as np
import torch

from sgdetr.engine.atomic_local_backend import atomic_output
from sgdetr.errors import DataError
from .caption_filter import FILTER_RULES, CaptionFilter
from .features import LAYOUTS, read_npz_array, read_pt_array
from .intervid_mr import (GRADE_STATS, PLACEMENTS, clip_caption_similarity,
                          load_caption_embedding, relabel_moment,
                          seconds_to_clip_interval, segment_window)

#: keys of a raw sample (one line of the input JSONL).
RAW_SAMPLE_KEYS = ('vid', 'qid', 'query', 'duration', 'interval')
#: why a sample may be left out, in report order: the caption rules first.
SKIP_REASONS = tuple(f'caption_{rule}' for rule in FILTER_RULES) + (
    'missing_video_features', 'missing_caption_features',
    'unreadable_features', 'duplicate_qid', 'empty_interval',
    'video_too_short', 'length_mismatch', 'interval_outside_video',
    'interval_longer_than_segment')
#: the paper's longest segment, seconds.
MAX_SEGMENT_SECONDS = 150.0


class InterVidMRBuilder:
    """Relabel raw caption samples one at a time (see the module doc).

    Args:
        video_dir: ``{vid}.npz`` with key ``features`` (L, D), the source
            videos' clip features.
        caption_dir: ``qid{qid}.npz`` with ``pooler_output`` (D,) or
            ``last_hidden_state`` (N, D) (token mean), in the video space.
        clip_len: seconds per clip of the video features.
        length_tolerance: a sample whose feature length L differs from
            ``duration / clip_len`` by more than this fraction (and more
            than 2 clips) is skipped; ``None`` keeps every length.
        caption_filter: the caption rules; ``None`` keeps every caption.
        max_duration: longest segment in seconds (``MAX_SEGMENT_SECONDS``);
            ``None``: no trimming, whole videos, no segment files.
        segment_dir: where segment features are written; needed with
            ``max_duration``.
        placement, seed: where a segment sits in a longer video
            (:func:`~.intervid_mr.segment_window`).
        grade_stats: eq. 18 statistics, ``'positives'`` or ``'annotated'``.
        feature_layout: video files of the source and the segments:
            ``'npz'`` (``{vid}.npz`` key ``features``) or ``'released'``
            (``{vid}.pt``, a saved tensor (L, D)), as the dataset's option.
    """

    def __init__(self, video_dir: str, caption_dir: str,
                 clip_len: float = 2.0,
                 length_tolerance: Optional[float] = 0.1,
                 caption_filter: Optional[CaptionFilter] = None,
                 max_duration: Optional[float] = None,
                 segment_dir: Optional[str] = None,
                 placement: str = 'random', seed: int = 0,
                 grade_stats: str = 'positives',
                 feature_layout: str = 'npz'):
        if not clip_len > 0:
            raise ValueError(f'clip_len must be positive, got {clip_len}')
        if placement not in PLACEMENTS or grade_stats not in GRADE_STATS:
            raise ValueError(f'placement must be one of {PLACEMENTS} and '
                             f'grade_stats one of {GRADE_STATS}, got '
                             f'{placement!r}, {grade_stats!r}')
        self.max_clips = None
        if max_duration is not None:
            self.max_clips = int(math.floor(max_duration / clip_len + 1e-9))
            if self.max_clips < 1:
                raise ValueError(f'max_duration {max_duration} s is shorter '
                                 f'than one {clip_len} s clip')
            if not segment_dir:
                raise ValueError('trimming (max_duration) needs segment_dir '
                                 'for the segment features')
            if osp.abspath(segment_dir) == osp.abspath(video_dir):
                raise ValueError(f'segment_dir must differ from video_dir '
                                 f'({video_dir}): the dataset reads the '
                                 f'segments alone')
            os.makedirs(segment_dir, exist_ok=True)
        self.video_dir, self.caption_dir = video_dir, caption_dir
        self.segment_dir = segment_dir
        self.clip_len = float(clip_len)
        self.length_tolerance = length_tolerance
        self.caption_filter = caption_filter
        self.placement, self.seed = placement, seed
        self.grade_stats = grade_stats
        if feature_layout not in LAYOUTS:
            raise ValueError(f'feature_layout must be one of {list(LAYOUTS)}'
                             f', got {feature_layout!r}')
        self._video_name, video_key = LAYOUTS[feature_layout][:2]
        for directory in (video_dir, caption_dir):
            if not osp.isdir(directory):
                raise DataError(f'{directory}: feature directory not found')
        self._seen_qids = set()
        # Several captions may share a video: keep the recent ones in memory.
        self._load_video = lru_cache(maxsize=16)(
            read_pt_array if video_key is None else
            lambda path: read_npz_array(path, video_key))
        self.load_state_dict(dict(num_samples=0, skipped={}, skip_examples={},
                                  totals={}, grade_histogram=[0] * 4))

    # -- resumable state -----------------------------------------------------
    def state_dict(self) -> dict:
        """The counters (JSON-ready); with :meth:`add_written` of every line
        written so far, everything a resumed build needs."""
        return dict(num_samples=self._num_samples,
                    skipped=dict(self._skipped),
                    skip_examples=dict(self._skip_examples),
                    totals=dict(self._totals),
                    grade_histogram=self._grade_histogram.tolist())

    def load_state_dict(self, state: dict) -> None:
        self._num_samples = int(state['num_samples'])
        self._skipped = Counter(state['skipped'])
        self._skip_examples = dict(state['skip_examples'])
        self._totals = Counter(state['totals'])
        self._grade_histogram = np.asarray(state['grade_histogram'],
                                           dtype=np.int64)

    def add_written(self, line: dict) -> None:
        """Remember a line written by this builder (or by the interrupted
        build being resumed): its qid and its caption are taken."""
        self._seen_qids.add(line['qid'])
        if self.caption_filter is not None:
            self.caption_filter.add(line.get('source_vid', line['vid']),
                                    line['query'])

    @property
    def num_written(self) -> int:
        return self._totals['written']

    # -- one sample ----------------------------------------------------------
    def process(self, sample: dict, where: str) -> Optional[dict]:
        """The annotation line of one raw sample, or ``None`` when it is left
        out (counted in the summary).

        Args:
            sample: one raw sample (see the module doc).
            where: ``file:line`` of the sample, for messages.

        Raises:
            DataError: a malformed sample, or caption and video embeddings
                of different dims.
        """
        self._num_samples += 1
        vid, qid, query, duration, (start_s, end_s) = _check_sample(sample,
                                                                    where)
        where = f'{where} (qid={qid!r}, vid={vid!r})'
        if self.caption_filter is not None:
            rule = self.caption_filter.reason(vid, query)
            if rule is not None:
                return self._skip(f'caption_{rule}',
                                  f'{where}: caption {query!r}')
        # a stat per sample, not a listing: millions of caption files would
        # cost a long start-up and a large set of names
        video_path = osp.join(self.video_dir,
                              self._video_name.format(vid=vid))
        caption_path = osp.join(self.caption_dir, f'qid{qid}.npz')
        if not osp.isfile(video_path):
            return self._skip('missing_video_features',
                              f'{where}: no {video_path}')
        if not osp.isfile(caption_path):
            return self._skip('missing_caption_features',
                              f'{where}: no {caption_path}')
        if qid in self._seen_qids:
            return self._skip('duplicate_qid',
                              f'{where}: qid already written')
        if not end_s > start_s:
            return self._skip('empty_interval', f'{where}: interval '
                              f'[{start_s:g}, {end_s:g}] has end <= start')
        try:
            video = self._load_video(video_path)
            caption = load_caption_embedding(caption_path)
        except DataError as error:
            return self._skip('unreadable_features', f'{where}: {error}')
        if caption.shape[0] != video.shape[1]:
            raise DataError(
                f'{where}: caption embedding dim {caption.shape[0]} differs '
                f'from the video feature dim {video.shape[1]}; relabelling '
                f'needs both in one aligned space (e.g. the projected '
                f'embeddings of one video-text model)')
        expected_clips = duration / self.clip_len
        if self.length_tolerance is not None and abs(
                len(video) - expected_clips) > max(
                    2.0, self.length_tolerance * expected_clips):
            return self._skip('length_mismatch', f'{where}: {len(video)} '
                              f'clips but duration {duration:g} s implies '
                              f'{expected_clips:.1f}')
        # Whole clips only (see sgdetr.datasets.intervid_mr).
        num_clips = min(len(video), int(duration / self.clip_len))
        if num_clips == 0:
            return self._skip('video_too_short', f'{where}: duration '
                              f'{duration:g} s is shorter than one '
                              f'{self.clip_len:g} s clip')
        interval = seconds_to_clip_interval((start_s, end_s), self.clip_len,
                                            num_clips)
        if interval is None:
            return self._skip('interval_outside_video', f'{where}: interval '
                              f'[{start_s:g}, {end_s:g}] overlaps none of '
                              f'the {num_clips} whole clips')
        if self.max_clips is None:
            first, last = 0, num_clips
        elif interval[1] - interval[0] > self.max_clips:
            return self._skip('interval_longer_than_segment', f'{where}: '
                              f'interval [{start_s:g}, {end_s:g}] is longer '
                              f'than {self.max_clips} clips')
        else:
            first, last = segment_window(num_clips, interval, self.max_clips,
                                         self.placement, self.seed, qid)
        similarity = clip_caption_similarity(video[first:last], caption)
        labels = relabel_moment(similarity, (interval[0] - first,
                                             interval[1] - first),
                                self.clip_len, self.grade_stats)
        line = dict(qid=qid, query=query, duration=duration, vid=vid,
                    relevant_clip_ids=labels['relevant_clip_ids'],
                    saliency_scores=labels['saliency_scores'],
                    relevant_windows=labels['relevant_windows'])
        if self.max_clips is not None:
            line.update(self._write_segment(vid, video, first, last,
                                            (start_s, end_s)))
        self._count_written(labels, last - first)
        self.add_written(line)
        return line

    # -- helpers -------------------------------------------------------------
    def _write_segment(self, vid: str, video: np.ndarray, first: int,
                       last: int, interval_s: Tuple[float, float]) -> dict:
        """Write the segment's clips; return the line fields naming it."""
        offset, seconds = first * self.clip_len, (last - first) * self.clip_len
        segment_vid = f'{vid}_{offset:.1f}_{offset + seconds:.1f}'
        # atomic: a build killed mid-write leaves no truncated file behind
        name = self._video_name.format(vid=segment_vid)
        with atomic_output(osp.join(self.segment_dir, name)) as temp_path:
            with open(temp_path, 'wb') as handle:
                if name.endswith('.pt'):
                    torch.save(torch.from_numpy(
                        np.ascontiguousarray(video[first:last])), handle)
                else:
                    np.savez(handle, features=video[first:last])
        start, end = (min(max(t - offset, 0.0), seconds) for t in interval_s)
        return dict(duration=seconds, vid=segment_vid, source_vid=vid,
                    source_window=[offset, offset + seconds],
                    clip_range=[first, last], annotated_window=[start, end])

    def _skip(self, reason: str, message: str) -> None:
        self._skipped[reason] += 1
        self._skip_examples.setdefault(reason, message)
        return None

    def _count_written(self, labels: dict, num_clips: int) -> None:
        grades = np.asarray(labels['saliency_scores'], dtype=np.int64)[:, 0]
        self._grade_histogram += np.bincount(grades - 1, minlength=4)
        self._totals.update(written=1, windows=len(labels['relevant_windows']),
                            positive_clips=len(grades), clips=num_clips)

    def summary(self) -> dict:
        """Counts so far; see :func:`format_intervid_mr_summary`."""
        summary = dict(
            num_samples=self._num_samples,
            num_written=self._totals['written'],
            skipped={r: self._skipped[r] for r in SKIP_REASONS
                     if self._skipped[r]},
            skip_examples=dict(self._skip_examples),
            num_windows=self._totals['windows'],
            num_positive_clips=self._totals['positive_clips'],
            num_clips=self._totals['clips'],
            grade_histogram=self._grade_histogram.tolist(),
            caption_filter=None)
        if self.caption_filter is not None:
            rules = [rule for rule in FILTER_RULES
                     if rule != 'duplicate_in_set'
                     or self.caption_filter.dedupe_in_set]
            summary['caption_filter'] = {
                rule: self._skipped[f'caption_{rule}'] for rule in rules}
        return summary


def build_intervid_mr(samples: Iterable[dict], video_dir: str,
                      caption_dir: str, **options) -> Tuple[List[dict], dict]:
    """Relabel a list of raw samples (in memory; the command line streams).

    Args:
        samples: raw sample dicts (see the module doc).
        video_dir, caption_dir, **options: of :class:`InterVidMRBuilder`.

    Returns:
        ``(lines, summary)``: the written annotation lines and
        :meth:`InterVidMRBuilder.summary` (``num_samples``, ``num_written``,
        ``skipped`` (reason -> count of :data:`SKIP_REASONS`),
        ``skip_examples`` (reason -> first message), ``num_windows``,
        ``num_positive_clips``, ``num_clips``, ``grade_histogram`` (counts
        of grades 1..4 over positive clips), ``caption_filter`` (rule ->
        count, or ``None`` without a filter)).

    Raises:
        DataError: see :meth:`InterVidMRBuilder.process`.
    """
    builder = InterVidMRBuilder(video_dir, caption_dir, **options)
    lines = [line for index, sample in enumerate(samples)
             for line in [builder.process(sample, f'sample {index}')]
             if line is not None]
    return lines, builder.summary()


def format_intervid_mr_summary(summary: dict) -> str:
    """Human-readable report of a :meth:`InterVidMRBuilder.summary`."""
    written = summary['num_written']
    report = [f'samples in: {summary["num_samples"]}, written: {written}, '
              f'skipped: {summary["num_samples"] - written}']
    if summary.get('caption_filter') is not None:
        report.append('  caption filter removed: ' + ', '.join(
            f'{rule} {count}'
            for rule, count in summary['caption_filter'].items()))
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


def _check_sample(sample: dict, where: str):
    """``(vid, qid, query, duration, (start, end))`` of one raw sample."""
    if not isinstance(sample, dict):
        raise DataError(f'{where}: expected a dict, got '
                        f'{type(sample).__name__}')
    missing = [key for key in RAW_SAMPLE_KEYS if sample.get(key) is None]
    if missing:
        raise DataError(f'{where} (qid={sample.get("qid")!r}): missing '
                        f'key(s) {missing} (has {sorted(sample)})')
    vid, qid, query, duration, interval = (sample[key]
                                           for key in RAW_SAMPLE_KEYS)
    where = f'{where} (qid={qid!r})'
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

