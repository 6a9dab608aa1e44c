"""Shared part of the sgdetr metrics: predictions become submission entries
in ``process``; ``compute_metrics`` dedupes them by qid, writes the
submission when asked and scores the entries as written (one saliency score
per clip as the benchmark counts them) against the annotation file.

A model may return other heads' windows next to its output
(``pred_instances_<head>``, e.g. ``pred_instances_fusion``): they are scored
too, their metrics named ``<head>/<metric>``; only the output is written.

The annotation file is checked by :meth:`check_ground_truth` (at start-up by
:class:`sgdetr.engine.SGDETRRunner`, else before the first scoring): every
line as the datasets check it, and the ground truth the metric scores present
on every query or on none. A split where some queries lack it is an error,
never a metric silently left out.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from sgdetr.datasets.annotations import parse_annotation, read_jsonl
from sgdetr.errors import DataError

from ..submission import (MAX_WINDOWS, dedupe_by_qid, dump_json, load_jsonl,
                          normalize_entry, prediction_to_submission, write_submission)


class BaseSubmissionMetric(BaseMetric):
    """Collects submission entries and scores them.

    Args:
        ann_file: the split's annotation file (JSON lines).
        submission_dir: when set, write the submission there (and the full
            metrics next to it when the split has ground truth).
        split_name: names the written files.
        max_windows: predicted windows kept per query (the first ones).
        match_number: require every qid of ``ann_file`` exactly once (the
            server's rule).  False scores only the predicted qids, e.g. when
            validating on a subset.
        collect_device, prefix, collect_dir: see
            :class:`mmengine.evaluator.BaseMetric`.  Metric names carry no
            prefix unless one is given.
    """
    # '' (not None) keeps metric names bare without MMEngine's warning
    default_prefix: Optional[str] = ''
    #: the metric family whose clip count saliency lists are fitted to
    #: (:func:`~sgdetr.evaluation.submission.normalize_entry`); None: as predicted
    clip_count_rule: Optional[str] = None

    def __init__(self,
                 ann_file: str,
                 submission_dir: Optional[str] = None,
                 split_name: str = 'val',
                 max_windows: Optional[int] = MAX_WINDOWS,
                 match_number: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix,
                         collect_dir=collect_dir)
        self.ann_file = ann_file
        self.submission_dir = submission_dir
        self.split_name = split_name
        self.max_windows = max_windows
        self.match_number = match_number
        self._annotations: Optional[List[dict]] = None
        self._coverage: Optional[Dict[str, bool]] = None

    # -- the ground truth ------------------------------------------------------
    #: kind of ground truth -> (annotation fields, test that a line has them)
    GROUND_TRUTH: Dict[str, Tuple[str, Callable[[dict], bool]]] = {}

    def check_ground_truth(self) -> Dict[str, bool]:
        """Validate ``ann_file``; returns which kinds of ground truth it has.

        Raises:
            DataError: a line that does not parse (``file:line``), a repeated
                qid, or a kind of ground truth that some queries have and
                others lack (all of those are listed).
        """
        if self._coverage is not None:
            return self._coverage
        records, seen = [], {}
        for line, raw in read_jsonl(self.ann_file):
            where = f'{self.ann_file}:{line}'
            parse_annotation(raw, where, clip_len=None)
            if raw['qid'] in seen:
                raise DataError(f'{where}: qid {raw["qid"]!r} already used on line '
                                f'{seen[raw["qid"]]}')
            seen[raw['qid']] = line
            self._check_record(raw, f'{where} (qid={raw["qid"]!r})')
            records.append((line, raw))
        if not records:
            raise DataError(f'{self.ann_file}: no annotations')
        records = [(line, raw) for line, raw in records if self._is_scored(raw)]
        coverage = {}
        for kind, (fields, present) in self.GROUND_TRUTH.items():
            lacking = [f'{self.ann_file}:{line} (qid={raw["qid"]!r})'
                       for line, raw in records if not present(raw)]
            if lacking and len(lacking) < len(records):
                listed = '\n  '.join(lacking[:20])
                more = f'\n  ... and {len(lacking) - 20} more' if len(lacking) > 20 else ''
                raise DataError(
                    f'{self.ann_file}: {len(lacking)} of {len(records)} queries lack '
                    f'{fields}, which the others have; {type(self).__name__} scores '
                    f'{kind} only on a split where every query has it:\n  {listed}{more}')
            coverage[kind] = bool(records) and not lacking
        self._coverage = coverage
        return coverage

    def _check_record(self, raw: dict, where: str) -> None:
        """Metric-specific rules for one annotation line."""

    def _is_scored(self, raw: dict) -> bool:
        """Whether this metric scores the query of annotation line ``raw``."""
        return True

    def metric_names(self) -> List[str]:
        """The names :meth:`compute_metrics` returns for the model's output
        (without ``prefix``; other heads add ``<head>/<name>``)."""
        raise NotImplementedError

    # names of the files written into submission_dir
    @property
    def submission_file(self) -> str:
        return f'{self.split_name}_submission.jsonl'

    @property
    def metrics_file(self) -> str:
        return self.submission_file.replace('.jsonl', '_metrics.json')

    @property
    def annotations(self) -> List[dict]:
        if self._annotations is None:
            self._annotations = load_jsonl(self.ann_file)
        return self._annotations

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Turn each predicted sample into a submission entry (one per head)."""
        for sample in data_samples:
            fields = sample.keys() if isinstance(sample, dict) else sample.all_keys()
            heads = {key[len('pred_instances_'):]: _windows_only(prediction_to_submission(
                sample, self.max_windows, key)) for key in fields
                if key.startswith('pred_instances_')}
            self.results.append(dict(entry=prediction_to_submission(sample, self.max_windows),
                                     heads=heads))

    def results_to_submission(self, results: Sequence[dict]) -> List[dict]:
        """Gathered entries -> one entry per qid (first kept), restricted to
        the annotated qids unless ``match_number``."""
        entries = dedupe_by_qid(results)
        if not self.match_number:
            annotated = {a['qid'] for a in self.annotations}
            entries = [e for e in entries if e['qid'] in annotated]
        return entries

    def _split_annotations(self, entries: Sequence[dict]) -> List[dict]:
        """The annotations scored: all of them, or the predicted qids only."""
        if self.match_number:
            return self.annotations
        predicted = {e['qid'] for e in entries}
        return [a for a in self.annotations if a['qid'] in predicted]

    def write(self, entries: Sequence[dict],
              metrics: Optional[dict] = None) -> None:
        """Write the submission (and the metrics) into ``submission_dir``."""
        if not self.submission_dir:
            return
        path = osp.join(self.submission_dir, self.submission_file)
        write_submission(entries, path, self._split_annotations(entries),
                         max_windows=self.max_windows, check=self.match_number,
                         dataset=self.clip_count_rule)
        print_log(f'submission of {len(entries)} queries written to {path}',
                  logger='current')
        if metrics is not None:
            dump_json(metrics, osp.join(self.submission_dir, self.metrics_file))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        self.check_ground_truth()
        entries = self.results_to_submission([r['entry'] for r in results])
        if not entries:
            raise ValueError(f'{type(self).__name__}: no prediction to evaluate')
        if not self.has_ground_truth():
            self.write(entries)
            print_log(f'{self.ann_file} has no ground truth: submission '
                      'written, nothing scored', logger='current')
            return {}
        annotations = self._split_annotations(entries)
        full, flat = self.score(self._as_written(entries, annotations), annotations)
        for head in sorted({h for r in results for h in r['heads']}):
            head_entries = self.results_to_submission(
                [r['heads'][head] for r in results if head in r['heads']])
            head_full, head_flat = self.score(self._as_written(head_entries, annotations),
                                              annotations)
            full = {**full, head: head_full}
            flat.update({f'{head}/{k}': v for k, v in head_flat.items()})
        self.write(entries, full)
        return flat

    def _as_written(self, entries: Sequence[dict], annotations: Sequence[dict]) -> List[dict]:
        """The entries as :meth:`write` writes them, so that the logged
        metrics are those of the file."""
        by_qid = {a['qid']: a for a in annotations}
        return [normalize_entry(e, by_qid.get(e['qid']), self.max_windows,
                                self.clip_count_rule) for e in entries]

    def has_ground_truth(self) -> bool:
        raise NotImplementedError

    def score(self, entries: List[dict], annotations: List[dict]):
        """Returns (full metrics to save, flat dict to log)."""
        raise NotImplementedError


def _windows_only(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != 'pred_saliency_scores'}
