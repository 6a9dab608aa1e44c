"""Datasets of (video, query) pairs for moment retrieval and highlight
detection, read from QVHighlights-format JSON lines and pre-extracted
features (see :mod:`.annotations` and :mod:`.features` for both formats).

``dataset[i]`` returns (see ``docs/design.md``, data contract)::

    dict(inputs=dict(video=Tensor(L, Dv), text=Tensor(N, Dt)),
         data_samples=MomentDataSample)

Everything is checked when the dataset is built, before any training step:
annotations (``file:line`` in the message), the presence of every feature
file (all missing ones are reported at once), and the content of every
feature file (``check_features``): readable, finite, of the expected dims,
and as long as ``duration / clip_len`` says (all bad files at once). The
same checks run again when a sample is read (the only check with
``check_features=False``, for sets too large to read at start-up). All of
it raises :class:`DataError`.

In training, the pipeline's random draws (saliency pairs, window subsets)
are a function of ``(seed, epoch, index)`` once :meth:`set_epoch` was called
(:class:`sgdetr.engine.RandomStateHook` does, every epoch): they do not
depend on the dataloader worker, and a resumed run repeats them.
"""
import math
import random
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from sgdetr.errors import DataError
from ..registry import DATASETS, TRANSFORMS
from .annotations import parse_annotation, read_jsonl
from .features import FeatureStore, clip_count_disagrees, dataset_paths

#: How many missing feature files an error message lists before summarising.
MAX_LISTED_MISSING = 100


@DATASETS.register_module()
class MomentRetrievalDataset(BaseDataset):
    """Generic MR/HD dataset; the benchmark classes below only preset it.

    Args:
        ann_file: JSON-lines annotation file (relative to ``data_root``).
        video_feat_dirs: one directory or a list of directories of
            ``{vid}.npz`` (key ``features`` (L, D_i)); several are concatenated
            along D after truncation to the shortest L.  ``None`` together
            with ``text_feat_dir=None`` gives the *annotation-only* mode:
            ``inputs`` is empty and L is ``ceil(duration / clip_len)`` (the
            number of ``label`` rows when ``clip_len=None``), which is what
            tests and ground-truth tools need.
        text_feat_dir: directory of ``qid{qid}.npz`` (key
            ``last_hidden_state`` (N, Dt)).
        clip_len: seconds per feature clip.  ``None`` derives it per sample
            as ``duration / len(label)`` (highlight sets whose features are
            extracted one per annotated segment; then the feature length is
            checked against ``len(label)``).
        video_l2_norm: L2-normalise clips, one bool or one per video dir.
        text_l2_norm: L2-normalise text tokens.
        video_dim, text_dim: expected feature dims (video: summed over dirs);
            checked at start-up against the first sample's files.
        feature_layout: ``'npz'`` or ``'released'`` (file names and keys, see
            :mod:`.features`).
        cache_features: ``False``, ``True`` (per-process cache) or
            ``'preload'`` (read everything at start-up, shared with forked
            workers); see :mod:`.features` for the trade-offs.
        length_tolerance: largest accepted relative difference between the
            feature length and the expected ``duration / clip_len`` clips
            (never less than 2 clips); ``None`` disables the check.
        check_features: read every feature file at start-up (a few threads,
            a progress bar for large sets) and report every unreadable,
            non-finite, mis-shaped or mis-sized one at once; ``False`` skips
            that pass (each sample is still checked when read).
        window_tolerance: seconds a window may lie outside ``[0, duration]``
            (it is clipped); more is an error.
        require_targets: in training (``test_mode=False``) every sample must
            carry ground truth (windows, saliency scores or label); the
            benchmark classes name the fields their training split must have.
        pipeline: transforms after loading (truncation, temporal endpoints,
            padding, targets, packing: see :mod:`.transforms`); defaults to
            ``[BuildMomentTargets(), PackMomentInputs()]``.
        **kwargs: ``data_root``, ``metainfo``, ``indices``,
            ``serialize_data``, ``test_mode``, ``lazy_init``, ``filter_cfg``
            of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(dataset_name='moment_retrieval')
    #: annotation fields a training sample must have (any one of them).
    TARGET_KEYS = ('windows', 'saliency_clip_ids', 'label')

    def __init__(self,
                 ann_file: str,
                 video_feat_dirs: Union[str, Sequence[str], None] = None,
                 text_feat_dir: Optional[str] = None,
                 clip_len: Optional[float] = 2.0,
                 video_l2_norm: Union[bool, Sequence[bool]] = True,
                 text_l2_norm: bool = True,
                 video_dim: Optional[int] = None,
                 text_dim: Optional[int] = None,
                 feature_layout: str = 'npz',
                 cache_features: Union[bool, str] = False,
                 length_tolerance: Optional[float] = 0.1,
                 check_features: bool = True,
                 window_tolerance: float = 0.5,
                 require_targets: bool = True,
                 pipeline: Optional[List[Union[dict, Callable]]] = None,
                 **kwargs):
        self.clip_len = clip_len
        if clip_len is not None and not clip_len > 0:
            raise ValueError(f'clip_len must be positive, got {clip_len}')
        self.length_tolerance = length_tolerance
        self.check_features = check_features
        self.window_tolerance = window_tolerance
        # (seed, epoch) of the pipeline's draws, -1 until set_epoch; in shared
        # memory so that persistent dataloader workers see every update
        self._seed_epoch = torch.full((2, ), -1, dtype=torch.int64).share_memory_()
        self.require_targets = require_targets
        if (video_feat_dirs is None) != (text_feat_dir is None):
            raise ValueError('give both video_feat_dirs and text_feat_dir, or '
                             'neither (annotation-only mode)')
        self.annotation_only = video_feat_dirs is None
        self.features: Optional[FeatureStore] = None
        if not self.annotation_only:
            paths = dataset_paths(dict(data_root=kwargs.get('data_root'),
                                       video_feat_dirs=video_feat_dirs,
                                       text_feat_dir=text_feat_dir))
            self.features = FeatureStore(
                video_dirs=paths.video_dirs,
                text_dir=paths.text_dir,
                video_l2_norm=video_l2_norm,
                text_l2_norm=text_l2_norm,
                video_dim=video_dim,
                text_dim=text_dim,
                cache=cache_features,
                layout=feature_layout)
        if pipeline is None:
            pipeline = [dict(type='BuildMomentTargets'),
                        dict(type='PackMomentInputs')]
        # Built here, from this package's registry, so that the dataset also
        # works outside a config whose default scope is 'sgdetr'.
        pipeline = [
            TRANSFORMS.build(transform) if isinstance(transform, dict) else
            transform for transform in pipeline
        ]
        # Feature paths are not BaseDataset prefixes (there may be several
        # video dirs), so no data_prefix is joined into the records.
        kwargs.setdefault('data_prefix', dict())
        super().__init__(ann_file=ann_file, pipeline=pipeline, **kwargs)

    # -- initialisation ------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """Parse and validate every line of ``ann_file``."""
        data_list, seen_qids = [], {}
        for line_number, raw in read_jsonl(self.ann_file):
            where = f'{self.ann_file}:{line_number}'
            record = parse_annotation(raw, where, self.clip_len,
                                      self.window_tolerance)
            if record['qid'] in seen_qids:
                raise DataError(f'{where}: qid {record["qid"]!r} already '
                                f'used on line {seen_qids[record["qid"]]}')
            seen_qids[record['qid']] = line_number
            self._check_record(record, where)
            record['line'] = line_number
            data_list.append(record)
        if not data_list:
            raise DataError(f'{self.ann_file}: no annotations')
        return data_list

    def _check_record(self, record: dict, where: str) -> None:
        """Dataset-level rules for one parsed record (subclasses add some)."""
        if self.clip_len is None and record['label'] is None:
            raise DataError(f'{where}: clip_len=None derives the clip length'
                            f' from `label`, which this line lacks')
        if (self.require_targets and not self.test_mode
                and all(record[key] is None for key in self.TARGET_KEYS)):
            names = {'windows': 'relevant_windows',
                     'saliency_clip_ids': 'relevant_clip_ids/'
                     'saliency_scores', 'label': 'label'}
            raise DataError(
                f'{where}: a training sample needs ground truth: one of '
                f'{[names[k] for k in self.TARGET_KEYS]}')

    def full_init(self) -> None:
        """BaseDataset's initialisation plus the feature checks."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        self._check_dataset(self.data_list)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def _check_dataset(self, data_list: List[dict]) -> None:
        vids = [record['vid'] for record in data_list]
        qids = [record['qid'] for record in data_list]
        if self.features is None:
            return
        missing = self.features.find_missing(vids, qids)
        if missing:
            listed = '\n  '.join(missing[:MAX_LISTED_MISSING])
            more = len(missing) - MAX_LISTED_MISSING
            raise DataError(
                f'{len(missing)} feature file(s) needed by {self.ann_file} '
                f'are missing:\n  {listed}' +
                (f'\n  ... and {more} more' if more > 0 else ''))
        if self.check_features:
            self._scan_features(data_list, vids, qids)
            return
        # Read the first sample now: wrong dims or a wrong key fail here,
        # before any training step.
        self.features.load_video(vids[0])
        self.features.load_text(qids[0])
        if self.features.cache_mode == 'preload':
            self.features.preload(vids, qids)
            print_log(f'{type(self).__name__}: preloaded '
                      f'{self.features.num_reads} feature files',
                      logger='current')

    def _scan_features(self, data_list: List[dict], vids: list, qids: list) -> None:
        """Every feature file read once; every problem reported at once."""
        # a cache keeps what its process read: what this pass read here (forked
        # workers then share it); 'preload' is that with the promise of no reads later
        preload = self.features.cache_mode == 'preload'
        lengths, problems = self.features.scan(vids, qids,
                                               keep=bool(self.features.cache_mode))
        for record in data_list:
            if record['vid'] in lengths:
                problem = self._length_problem(record, lengths[record['vid']],
                                               self._clip_len_of(record))
                if problem is not None:
                    problems.append(problem)
        if problems:
            listed = '\n  '.join(problems[:MAX_LISTED_MISSING])
            more = len(problems) - MAX_LISTED_MISSING
            raise DataError(
                f'{len(problems)} problem(s) in the features of {self.ann_file} '
                f'(every file was read; check_features=False skips this):\n  {listed}' +
                (f'\n  ... and {more} more' if more > 0 else ''))
        if preload:
            print_log(f'{type(self).__name__}: preloaded '
                      f'{self.features.num_reads} feature files',
                      logger='current')

    def set_epoch(self, epoch: int, seed: int) -> None:
        """Make the pipeline's random draws a function of (seed, epoch, index)."""
        self._seed_epoch[0] = int(seed)
        self._seed_epoch[1] = int(epoch)

    # -- samples -------------------------------------------------------------
    def _clip_len_of(self, record: dict) -> float:
        if self.clip_len is None:
            return record['duration'] / len(record['label'])
        return self.clip_len

    def prepare_data(self, idx: int) -> dict:
        results = self.get_data_info(idx)
        clip_len = self.clip_len
        if clip_len is None:
            clip_len = results['duration'] / len(results['label'])
        results['clip_len'] = clip_len
        if self.annotation_only:
            num_clips = self._expected_num_clips(results, clip_len)
        else:
            video = self.features.load_video(results['vid'])
            self._check_length(results, len(video), clip_len)
            text = self.features.load_text(results['qid'])
            results['video'] = video
            results['text'] = text
            num_clips = len(video)
        results['num_clips'] = num_clips
        seed, epoch = self._seed_epoch.tolist()
        if epoch < 0:
            return self.pipeline(results)
        # this sample's own stream; the process' streams are left as they were
        numpy_state, python_state = np.random.get_state(), random.getstate()
        entropy = np.random.SeedSequence([seed % 2**63, epoch, idx]).generate_state(4)
        np.random.seed(entropy)
        random.seed(int(entropy[0]))
        try:
            return self.pipeline(results)
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)

    def _expected_num_clips(self, record: dict, clip_len: float) -> int:
        if self.clip_len is None:  # one clip per label row
            return len(record['label'])
        return max(1, math.ceil(record['duration'] / clip_len - 1e-6))

    def _check_length(self, record: dict, length: int,
                      clip_len: float) -> None:
        problem = self._length_problem(record, length, clip_len)
        if problem is not None:
            raise DataError(problem)

    def _length_problem(self, record: dict, length: int,
                        clip_len: float) -> Optional[str]:
        if self.length_tolerance is None:
            return None
        expected = (len(record['label']) if record['label'] is not None
                    and self.clip_len is None else record['duration'] /
                    clip_len)
        if clip_count_disagrees(length, expected, self.length_tolerance):
            return (
                f'{self.features.video_paths(record["vid"])}: {length} clips '
                f'but {self.ann_file}:{record["line"]} (qid={record["qid"]!r})'
                f' implies {expected:.1f} (duration {record["duration"]:g} s /'
                f' clip_len {clip_len:g} s); wrong clip_len or feature file? '
                f'(length_tolerance={self.length_tolerance})')
        return None

@DATASETS.register_module()
class QVHighlightsDataset(MomentRetrievalDataset):
    """QVHighlights: 2 s clips, windows + 3-annotator saliency (0..4) in
    training; the test split has neither (``test_mode=True``)."""
    METAINFO = dict(dataset_name='qvhighlights')
    TARGET_KEYS = ('windows', 'saliency_clip_ids')

    def __init__(self, *args, clip_len: Optional[float] = 2.0, **kwargs):
        super().__init__(*args, clip_len=clip_len, **kwargs)

    def _check_record(self, record: dict, where: str) -> None:
        super()._check_record(record, where)
        if self.require_targets and not self.test_mode:
            for key, name in (('windows', 'relevant_windows'),
                              ('saliency_clip_ids', 'saliency_scores')):
                if record[key] is None:
                    raise DataError(f'{where}: a QVHighlights training '
                                    f'sample needs `{name}`')


@DATASETS.register_module()
class CharadesSTADataset(MomentRetrievalDataset):
    """Charades-STA: 1 s clips, one window per query, binary saliency."""
    METAINFO = dict(dataset_name='charades_sta')
    TARGET_KEYS = ('windows', )

    def __init__(self, *args, clip_len: Optional[float] = 1.0, **kwargs):
        super().__init__(*args, clip_len=clip_len, **kwargs)


@DATASETS.register_module()
class TACoSDataset(MomentRetrievalDataset):
    """TACoS: 2 s clips, one window per query, binary saliency."""
    METAINFO = dict(dataset_name='tacos')
    TARGET_KEYS = ('windows', )

    def __init__(self, *args, clip_len: Optional[float] = 2.0, **kwargs):
        super().__init__(*args, clip_len=clip_len, **kwargs)


class _HighlightDataset(MomentRetrievalDataset):
    """Highlight-only sets: per-segment ``label``, no windows, a ``domain``.

    Their features are extracted one per annotated segment, so the clip
    length defaults to ``duration / len(label)`` and saliency row i is clip i.
    The label is needed in every split (evaluation reads it too).

    Args:
        domains: keep only the samples of these domains (the benchmarks
            train and evaluate one domain at a time); None keeps all.  A
            domain that no line of ``ann_file`` has is an error, and so is a
            line without ``domain`` when domains are asked for.
    """
    TARGET_KEYS = ('label', )

    def __init__(self, *args, clip_len: Optional[float] = None,
                 domains: Optional[Sequence[str]] = None, **kwargs):
        if isinstance(domains, str):
            domains = [domains]
        # set before BaseDataset's __init__, which filters the data
        self.domains = None if domains is None else tuple(domains)
        super().__init__(*args, clip_len=clip_len, **kwargs)

    def filter_data(self) -> List[dict]:
        if self.domains is None:
            return self.data_list
        for record in self.data_list:
            if 'domain' not in record:
                raise DataError(f'{self.ann_file}:{record["line"]} (qid='
                                f'{record["qid"]!r}) has no `domain`, but '
                                f'domains={list(self.domains)} were asked for')
        present = sorted({record['domain'] for record in self.data_list})
        missing = [domain for domain in self.domains if domain not in present]
        if missing:
            raise DataError(f'{self.ann_file}: no sample of domain(s) {missing}; '
                            f'the file has {present}')
        return [r for r in self.data_list if r['domain'] in self.domains]

    def _check_record(self, record: dict, where: str) -> None:
        super()._check_record(record, where)
        if record['label'] is None:
            raise DataError(f'{where}: a {self.metainfo["dataset_name"]} '
                            f'sample needs `label`')


@DATASETS.register_module()
class TVSumDataset(_HighlightDataset):
    """TVSum: 20 annotators score every segment 1..5; 10 domains."""
    METAINFO = dict(dataset_name='tvsum')


@DATASETS.register_module()
class YouTubeHighlightsDataset(_HighlightDataset):
    """YouTube-Highlights: one 0/1 label per segment; 6 domains."""
    METAINFO = dict(dataset_name='youtube_highlights')

