"""Search a library of videos: the best moments of all of them for one query.

    from sgdetr.apis import MomentSearcher

    searcher = MomentSearcher('library.idx', 'configs/sgdetr_qvh.py', 'sgdetr_qvh.pth')
    searcher.index('features/internvideo2_video')        # once; later calls add what changed
    searcher.query(query_token_feats, top_k=10)          # [Moment(video, start, end, score), ...]

Two stages (:mod:`sgdetr.search`): the index holds, per video, the model's
own query-independent clip embeddings pooled over short segments (int8 with
a scale per row, memory-mapped); a query's sentence token ranks every segment of the library
with one matrix-vector product, and the best segments become candidate
windows of the trained length. The full model then reads each candidate
(through the config's test pipeline, batched) and its windows are scored on
one scale for all videos (:mod:`sgdetr.search.ranking`).
"""
import os.path as osp
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import ProgressBar

from sgdetr import extractors
from sgdetr.errors import DataError
from sgdetr.extractors import (VIDEO_EXTENSIONS, extract_video, is_feature_file, is_video_file,
                               load_feature_file, save_video_features)
from sgdetr.search.candidates import Candidates, candidate_windows, segment_scores
from sgdetr.search.embedding import ModelEmbedding
from sgdetr.search.errors import IndexMismatchError, StaleIndexError
from sgdetr.search.identity import check_identity, model_identity
from sgdetr.search.library import (FEATURE_EXTENSIONS, FileState, UpdatePlan, length_problem,
                                   plan_update, read_durations, scan_library, stale_problem)
from sgdetr.search.ranking import merge_moments, moment_scores
from sgdetr.search.store import IndexStore, IndexTable, VideoRecord
from .predictor import MomentPredictor

#: a video needs this many clips to hold a moment with a start and an end
MIN_CLIPS = 2
DEFAULT_SEGMENT_CLIPS = 8


class Moment(NamedTuple):
    video: str
    start: float
    end: float
    score: float


@dataclass
class SearchResult:
    """``moments`` best first; ``candidates`` the first stage's windows
    ``(video, start_s, end_s, score)``; ``timings`` seconds per stage
    (``query``: the sentence token, ``first_stage``, ``second_stage``)."""
    moments: List[Moment]
    candidates: List[Moment]
    timings: Dict[str, float] = field(default_factory=dict)


class MomentSearcher:
    """Index a library of videos once, then find moments in all of them.

    Args:
        index_dir: the index directory (created by the first :meth:`index`).
        config: config path or :class:`Config` of the model.
        checkpoint: its weights (``None`` for parameter-free models).
        device: device of the model.
        text_encoder: a :class:`sgdetr.extractors.TextEncoder` (or its config)
            for query texts; features work without one.
        video_encoder: a :class:`sgdetr.extractors.VideoEncoder` (or its
            config) to index video files; their features are written to
            ``index_dir/features``.
        segment_clips: clips pooled per indexed segment (a new index only;
            default 8, 16 s of QVHighlights).
        batch_size: candidates per forward of the second stage.
        feature_cache: video feature arrays kept in memory between queries.

    An index records the config and checkpoint it was built with (SHA-256)
    and refuses any other (:class:`IndexMismatchError`).
    """

    def __init__(self, index_dir: str, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu', text_encoder=None,
                 video_encoder=None, segment_clips: Optional[int] = None, batch_size: int = 32,
                 feature_cache: int = 32):
        self.index_dir = osp.abspath(index_dir)
        self.cfg = Config.fromfile(config) if isinstance(config, str) else config
        self.predictor = MomentPredictor(self.cfg, checkpoint, device)
        dataset = self.cfg.test_dataloader.dataset
        self.clip_len = float(self.predictor.clip_len or 2.0)
        self.video_dim, self.text_dim = dataset.get('video_dim'), dataset.get('text_dim')
        self.embedding = ModelEmbedding(self.predictor, self.video_dim, self.text_dim)
        if getattr(self.predictor.model, 'predict_with', 'spans') is None:
            raise ValueError('the model predicts saliency only (predict_with=None): a search '
                             'needs a model with span heads')
        config_name = config if isinstance(config, str) else getattr(self.cfg, 'filename', None)
        self.identity = model_identity(
            self.cfg, config_name and osp.abspath(config_name),
            checkpoint and osp.abspath(checkpoint))
        self.text_encoder = _build(text_encoder, 'TextEncoder')
        self.video_encoder = _build(video_encoder, 'VideoEncoder')
        self.batch_size = batch_size
        self._segment_clips = segment_clips
        self._cache_size, self._features = feature_cache, OrderedDict()
        self._store: Optional[IndexStore] = None
        self._table: Optional[IndexTable] = None
        if IndexStore.exists(self.index_dir):
            self._open(IndexStore(self.index_dir)).close()

    # -- the index -------------------------------------------------------------
    @property
    def segment_clips(self) -> int:
        return self._segment_clips or DEFAULT_SEGMENT_CLIPS

    @property
    def window_clips(self) -> int:
        return self.embedding.window_clips or 1 << 30

    def _meta(self, source: str) -> dict:
        return dict(self.identity, dim=self.embedding.dim, video_dim=self.video_dim,
                    text_dim=self.text_dim, segment_clips=self.segment_clips,
                    window_clips=self.embedding.window_clips, clip_len=self.clip_len,
                    source=source)

    def _open(self, store: IndexStore) -> IndexStore:
        """Check that ``store`` belongs to this model and these settings."""
        meta = store.meta
        try:
            check_identity(self.index_dir, meta, self.identity)
            for key, value in (('dim', self.embedding.dim), ('clip_len', self.clip_len),
                               ('window_clips', self.embedding.window_clips)):
                if meta.get(key) != value:
                    raise IndexMismatchError(f'{self.index_dir}: {key} {meta.get(key)} in the '
                                             f'index, {value} here')
            if self._segment_clips not in (None, meta['segment_clips']):
                raise IndexMismatchError(
                    f'{self.index_dir}: segment_clips {meta["segment_clips"]} in the index, '
                    f'{self._segment_clips} asked; index into another directory to change it')
        except IndexMismatchError:
            store.close()
            raise
        self._segment_clips = meta['segment_clips']
        return store

    def _reader(self) -> IndexStore:
        if self._store is None:
            self._store = self._open(IndexStore(self.index_dir))
        return self._store

    def index(self, source: Optional[str] = None, durations=None, detect: str = 'stat',
              commit_every: int = 64, progress: bool = True,
              skip_bad: bool = False) -> Dict[str, list]:
        """Add the new and changed videos of ``source`` to the index, drop the removed ones.

        Resumable: videos are committed ``commit_every`` at a time (and what
        was embedded when an error stops the run), so running it again after a
        kill continues where it stopped. Nothing committed is lost when an
        update fails: a changed video keeps its old entry until its new one
        commits.

        Args:
            source: the library directory (default: the one the index was
                built from; an index reads one directory).
            durations: ``vid -> seconds`` or JSON lines with ``vid`` and
                ``duration`` (e.g. an annotation file); default clips x clip_len.
            detect: ``'stat'`` (size and modification time) or ``'hash'`` (SHA-256).
            commit_every: videos per commit.
            progress: show a progress bar.
            skip_bad: report a bad file and go on, instead of stopping.

        Returns:
            vids per outcome: ``added``, ``updated``, ``removed``, ``unchanged``,
            and ``skipped`` (``'vid: reason'``).

        Raises:
            DataError: naming the file, for a file that cannot be indexed (an
                unreadable file, another feature dim, fewer than 2 clips, a
                duration that disagrees with the clips) or a library without
                any video; :class:`IndexMismatchError` for another model.
        """
        if not IndexStore.exists(self.index_dir):
            if source is None:
                raise ValueError(f'{self.index_dir}: a new index needs the library directory')
            if not scan_library(source, self._extensions()):  # no empty index is created
                raise DataError(_no_video(source, self._extensions()))
        create = self._meta(osp.abspath(source)) if source else None
        store = self._open(IndexStore(self.index_dir, writable=True, create=create))
        try:
            return self._update(store, source, durations, detect, commit_every, progress,
                                skip_bad)
        finally:
            store.close()
            self._table = None

    def _update(self, store: IndexStore, source: Optional[str], durations, detect: str,
                commit_every: int, progress: bool, skip_bad: bool) -> Dict[str, list]:
        plan, found, stored = self._plan(store, source, detect)
        duration_source = 'the durations given' if isinstance(durations, dict) else durations
        durations = read_durations(durations)
        touched = [(_refreshed(stored[v], found[v], plan.hashes.get(v)), None)
                   for v in plan.touched]
        if touched or plan.removed:
            store.commit(touched, plan.removed)
        skipped, batch, bad = [], [], []
        bar = None
        if progress and plan.pending:
            bar = ProgressBar(len(plan.pending))
        try:
            for vid in plan.pending:
                try:
                    batch.append(self._embed(vid, found[vid], durations.get(vid),
                                             duration_source, plan.hashes.get(vid)))
                except DataError as error:
                    if not skip_bad:
                        raise
                    skipped.append(f'{vid}: {error}')
                    bad.append(vid)
                if len(batch) >= commit_every:
                    ready, batch = batch, []
                    store.commit(ready)
                if bar is not None:
                    bar.update()
        except BaseException:
            if batch:  # keep what was embedded before the error: a rerun resumes after it
                store.commit(batch)
            raise
        # a skipped file that was indexed before no longer is what its entry says
        dropped = [vid for vid in bad if vid in stored]
        if batch or dropped:
            store.commit(batch, dropped)
        if bar is not None:
            print()
        if store.dead_fraction() >= 0.5:  # at least half the data file is owned by nobody
            store.compact()
        return dict(added=[v for v in plan.new if v not in bad],
                    updated=[v for v in plan.changed if v not in bad], removed=plan.removed,
                    unchanged=plan.unchanged + plan.touched, skipped=skipped)

    def _plan(self, store: IndexStore, source: Optional[str], detect: str):
        recorded = store.meta['source']
        source = osp.abspath(source) if source else recorded
        if source != recorded:
            raise IndexMismatchError(f'{self.index_dir}: indexes {recorded}, not {source}; '
                                     'index another library into another directory')
        found = scan_library(source, self._extensions())
        stored = store.records()
        if not found and not stored:
            raise DataError(_no_video(source, self._extensions()))
        return plan_update(stored, found, detect), found, stored

    def _extensions(self) -> tuple:
        if self.video_encoder is None:
            return FEATURE_EXTENSIONS
        return FEATURE_EXTENSIONS + VIDEO_EXTENSIONS

    def status(self, source: Optional[str] = None, detect: str = 'stat') -> UpdatePlan:
        """What :meth:`index` would do now (nothing is written)."""
        return self._plan(self._reader(), source, detect)[0]

    def _embed(self, vid: str, state: FileState, duration: Optional[float],
               duration_source: Optional[str], sha256: Optional[str]):
        """(record, segment rows) of one video; DataError naming its file."""
        features, features_path, decoded = self._read_source(vid, state.path)
        num_clips, dim = features.shape
        if self.video_dim is not None and dim != self.video_dim:
            raise DataError(f'{state.path}: clip features of dim {dim}, the index reads '
                            f'{self.video_dim} (video_dim of the config)')
        if num_clips < MIN_CLIPS:
            raise DataError(f'{state.path}: {num_clips} clip ({num_clips * self.clip_len:g} s); '
                            f'a video needs at least {MIN_CLIPS} clips to hold a moment')
        if duration is not None:
            problem = length_problem(state.path, num_clips, duration, self.clip_len,
                                     duration_source)
            if problem:
                raise DataError(problem)
        duration = duration or decoded or num_clips * self.clip_len
        rows = self.embedding.segments(features, self.segment_clips)
        record = VideoRecord(vid, state.path, features_path, state.size, state.mtime_ns, sha256,
                             num_clips, float(duration))
        return record, rows

    def _read_source(self, vid: str, path: str):
        """(features (L, D), the feature file, decoded duration or None)."""
        if self.video_encoder is None or not is_video_file(path):
            return load_feature_file(path), path, None
        try:
            features, duration = extract_video(path, self.video_encoder, self.clip_len)
        except (ValueError, OSError, RuntimeError) as error:
            raise DataError(f'{path}: cannot extract features ({error})') from error
        target = save_video_features(features, osp.join(self.index_dir, 'features'), vid)
        return features, target, duration

    # -- queries ---------------------------------------------------------------
    def table(self) -> IndexTable:
        """The committed index (re-read when another process committed since)."""
        store = self._reader()
        if self._table is None or self._table.revision != store.revision:
            self._table = store.table()
            self._rows = torch.from_numpy(self._table.rows)
            self._scales = torch.from_numpy(np.asarray(self._table.scales)).to(torch.bfloat16)
            dead = self._table.owner < 0
            self._dead = torch.from_numpy(dead) if dead.any() else None
        return self._table

    def query_tokens(self, query) -> np.ndarray:
        """(N, Dt) token features of a query text (with ``text_encoder``), a
        feature file, or features."""
        if isinstance(query, str) and is_feature_file(query):
            return load_feature_file(query)
        if isinstance(query, str):
            if self.text_encoder is None:
                raise ValueError('query texts need a text_encoder (the one the model\'s '
                                 'features came from); or give the query\'s token features')
            return self.text_encoder.encode([query])[0].numpy().astype(np.float32)
        if isinstance(query, torch.Tensor):
            query = query.detach().cpu().numpy()
        return np.asarray(query, dtype=np.float32)

    def search(self, query, top_k: int = 10, num_candidates: int = 20,
               moment_score: str = 'window*saliency') -> SearchResult:
        """The ``top_k`` best moments of the whole library, with the first stage's candidates.

        Args:
            query: text (with ``text_encoder``), a text feature file, or (N, Dt)
                token features.
            top_k: moments returned.
            num_candidates: windows the first stage hands to the full model.
            moment_score: how a moment is scored (:mod:`sgdetr.search.ranking`).
        """
        timings = {}
        begin = time.perf_counter()
        table = self.table()
        if not len(table.vids):
            raise DataError(f'{self.index_dir}: the index holds no videos; add some with '
                            'index()')
        tokens = self.query_tokens(query)
        sentence = self.embedding.query(tokens, query if isinstance(query, str) else 'the query')
        timings['query'] = time.perf_counter() - begin
        begin = time.perf_counter()
        scores = segment_scores(self._rows, self._scales, sentence, self._dead)
        candidates = candidate_windows(scores, table, self.segment_clips, self.window_clips,
                                       num_candidates)
        timings['first_stage'] = time.perf_counter() - begin
        begin = time.perf_counter()
        moments = self._second_stage(candidates, tokens, table, top_k, moment_score)
        timings['second_stage'] = time.perf_counter() - begin
        return SearchResult(moments, self._candidate_list(candidates, table), timings)

    def query(self, query, top_k: int = 10, num_candidates: int = 20) -> List[Moment]:
        """The ``top_k`` best moments ``(video, start, end, score)`` of the library."""
        return self.search(query, top_k, num_candidates).moments

    def first_stage(self, query, num_candidates: int = 20) -> List[Moment]:
        """The first stage alone: candidate windows ``(video, start_s, end_s, score)``."""
        table = self.table()
        if not len(table.vids):
            raise DataError(f'{self.index_dir}: the index holds no videos')
        sentence = self.embedding.query(self.query_tokens(query))
        scores = segment_scores(self._rows, self._scales, sentence, self._dead)
        return self._candidate_list(candidate_windows(
            scores, table, self.segment_clips, self.window_clips, num_candidates), table)

    def _candidate_list(self, candidates: Candidates, table: IndexTable) -> List[Moment]:
        return [Moment(table.vids[v], float(s * self.clip_len),
                       float(min(e * self.clip_len, table.duration[v])), float(score))
                for v, s, e, score in zip(candidates.video, candidates.start, candidates.end,
                                          candidates.score)]

    def _second_stage(self, candidates: Candidates, tokens: np.ndarray, table: IndexTable,
                      top_k: int, moment_score: str) -> List[Moment]:
        samples, offsets = [], []
        for video, start, end in zip(candidates.video, candidates.start, candidates.end):
            record = table.records[video]
            features = self.video_features(record)
            offset = start * self.clip_len
            # the last window of a video ends with its duration, the others with their clips
            duration = ((end - start) * self.clip_len if end < record.num_clips
                        else max(record.duration - offset, self.clip_len))
            samples.append((features[start:end], duration))
            offsets.append(offset)
        outputs = self._run_model(samples, tokens)
        videos, spans, scores = [], [], []
        for video, offset, (windows, saliency) in zip(candidates.video, offsets, outputs):
            scores.append(moment_scores(windows, saliency, self.clip_len, moment_score))
            spans.append(np.clip(windows[:, :2] + offset, 0.0, table.duration[video]))
            videos.append(np.full(len(windows), video))
        videos, spans, scores = map(np.concatenate, (videos, spans, scores))
        kept = merge_moments(videos, spans, scores)[:top_k]
        return [Moment(table.vids[videos[i]], float(spans[i, 0]), float(spans[i, 1]),
                       float(scores[i])) for i in kept]

    @torch.no_grad()
    def _run_model(self, samples: Sequence, tokens: np.ndarray) -> List:
        """The full model on (clips (L, Dv), duration) candidates with one query:
        ``[(windows (M, 3) [start, end, score] seconds from the candidate's
        start, saliency (L,) logits), ...]``, through
        :meth:`MomentPredictor.run`: batched, each as a batch of one would
        compute it, a candidate longer than the trained length read as windows."""
        prepared = [self.predictor.prepare(clips, tokens, duration) for clips, duration in samples]
        results = []
        for out in self.predictor.run(prepared, self.batch_size):
            instances = out.pred_instances
            windows = torch.cat([instances.spans, instances.scores[:, None]], 1)
            results.append((windows.float().cpu().numpy().reshape(-1, 3),
                            out.pred_saliency.float().cpu().numpy()))
        return results

    def video_features(self, record: VideoRecord) -> np.ndarray:
        """The indexed video's clip features; :class:`StaleIndexError` when its
        file changed since it was indexed."""
        problem = stale_problem(record)
        if problem:
            raise StaleIndexError(f'{problem}; update the index ({self.index_dir}) with '
                                  'index() or `python tools/search.py index`')
        cached = self._features.get(record.vid)
        if cached is not None and cached[0] == (record.size, record.mtime_ns):
            self._features.move_to_end(record.vid)
            return cached[1]
        features = load_feature_file(record.features)
        if len(features) != record.num_clips:
            raise StaleIndexError(f'{record.features}: {len(features)} clips, {record.num_clips} '
                                  f'when indexed; update the index ({self.index_dir})')
        self._features[record.vid] = ((record.size, record.mtime_ns), features)
        if len(self._features) > self._cache_size:
            self._features.popitem(last=False)
        return features

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store, self._table = None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _no_video(source: str, extensions: Sequence[str]) -> str:
    return f'{source}: no video to index (files ending in {", ".join(extensions)})'


def _refreshed(record: VideoRecord, state: FileState, sha256: Optional[str]) -> VideoRecord:
    return VideoRecord(record.vid, state.path, record.features, state.size, state.mtime_ns,
                       sha256, record.num_clips, record.duration)


def _build(encoder, kind: str):
    if encoder is None or not isinstance(encoder, dict):
        return encoder
    return extractors.build_encoder(encoder, getattr(extractors, kind))
