"""Feature files: locating, reading, checking, normalising and caching.

Layouts (``layout`` argument of :class:`FeatureStore`):

- ``'npz'``, the de-facto standard of pre-extracted MR/HD features
  (Moment-DETR, QD-DETR, CG-DETR, Lighthouse): video
  ``{video_dir}/{vid}.npz`` with key ``features``, float (L, Dv_i) per clip;
  text ``{text_dir}/qid{qid}.npz`` with key ``last_hidden_state``, float
  (N, Dt) token features;
- ``'released'``, the layout of the SG-DETR release (InternVideo2-1B):
  video ``{video_dir}/{vid}.pt``, a torch tensor (L, Dv); text
  ``{text_dir}/{qid}.npz`` with key ``features`` (N, Dt).

A leading batch axis of size 1 is dropped. Several video directories are
concatenated along the feature axis (-> (L, sum_i Dv_i)) after truncating
all of them to the shortest L (extractors disagree by a clip or two).

Caching (``cache`` argument of :class:`FeatureStore`):

- ``False``: every access reads the file.
- ``True``: a dict in the process that reads the file keeps the processed
  array.  Each dataloader worker holds its own copy of the dataset and so its
  own cache: with ``persistent_workers=True`` a worker stops reading a file
  once it has seen it, and memory grows up to ``num_workers`` x the feature
  size; with non-persistent workers the caches die with the workers at the
  end of every epoch (only the main process, ``num_workers=0``, keeps one).
- ``'preload'``: read everything once, in the process that builds the
  dataset, before workers start; forked workers then share those pages
  copy-on-write, so there is one copy and no file is read after start-up
  (the start-up pays for reading the whole split).

Checking (:meth:`FeatureStore.scan`): every file of a split is read once at
start-up, by a few threads, and its shape, dtype, finiteness and feature dim
checked; all bad files are reported together. With a cache (``True`` or
``'preload'``) the dataset keeps what the scan read.
"""
import io
import os
import os.path as osp
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import (Dict, Hashable, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import torch
from mmengine.utils import ProgressBar

from sgdetr.errors import DataError

_HEADER_LOCK = threading.Lock()

#: per layout: (video file name, video npz key or None for .pt, text file name, text key)
LAYOUTS = {
    'npz': ('{vid}.npz', 'features', 'qid{qid}.npz', 'last_hidden_state'),
    'released': ('{vid}.pt', None, '{qid}.npz', 'features'),
}


def clip_count_disagrees(num_clips: float, expected: float, tolerance: float = 0.1) -> bool:
    """The rule every reader applies to a video's clip count against the
    ``expected`` count its duration implies: off by more than ``tolerance``
    of it and by more than 2 clips (extractors differ by a partial clip or a
    few frames)."""
    return abs(num_clips - expected) > max(2.0, tolerance * expected)


def read_pt_array(path: str) -> np.ndarray:
    """Read the tensor saved at ``path`` (``torch.save``) as a finite float32 2D array.

    Loaded with ``weights_only=True``: a file that would run code is refused.
    Raises :class:`DataError` as :func:`read_npz_array`.
    """
    try:
        tensor = torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError as error:
        raise DataError(f'{path}: feature file not found') from error
    except Exception as error:  # unpickling errors have many types
        raise DataError(f'{path}: cannot read feature file ({error})') from error
    if not isinstance(tensor, torch.Tensor):
        raise DataError(f'{path}: expected a saved tensor (L, D), got '
                        f'{type(tensor).__name__}')
    return _checked(tensor.float().numpy(), path, 'tensor')


def read_npz_array(path: str, key: str) -> np.ndarray:
    """Read ``key`` from the ``.npz`` at ``path`` as a finite float32 2D array.

    Returns:
        (T, D) float32.

    Raises:
        DataError: the file is missing or unreadable, lacks ``key``, the array
            is not (T, D) (a leading axis of size 1 is accepted and dropped),
            is empty, or holds NaN/Inf.
    """
    try:
        with open(path, 'rb') as handle:
            if handle.read(6) == b'\x93NUMPY':
                raise DataError(f'{path}: expected an .npz archive with key '
                                f'{key!r}, got a bare array')
        with np.load(path, allow_pickle=False) as npz:
            if key not in npz.files:
                raise DataError(f'{path}: no array named {key!r} '
                                f'(the file has {npz.files})')
            member = key + '.npy' if key + '.npy' in npz.zip.namelist() else key
            raw = npz.zip.read(member)  # the I/O and decompression, in parallel
        with _HEADER_LOCK:
            # numpy parses .npy headers with ast.literal_eval, which is not
            # thread-safe before Python 3.11.8 / 3.12.1 ("AST constructor
            # recursion depth mismatch"): one parse at a time
            array = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except FileNotFoundError as error:
        raise DataError(f'{path}: feature file not found') from error
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f'{path}: cannot read feature file ({error})'
                        ) from error
    return _checked(array, path, repr(key))


def _checked(array: np.ndarray, path: str, key: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or 0 in array.shape:
        raise DataError(f'{path}: {key} must be a non-empty 2D array '
                        f'(length, dim), got shape {array.shape}')
    if not np.issubdtype(array.dtype, np.number):
        raise DataError(f'{path}: {key} has non-numeric dtype '
                        f'{array.dtype}')
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise DataError(f'{path}: {key} holds NaN/Inf in {bad_rows.size} '
                        f'of {len(array)} rows (first: row {bad_rows[0]})')
    return array


def l2_normalize(array: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of (T, D) ``array`` scaled to unit L2 norm (zero rows stay 0)."""
    norm = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.maximum(norm, eps)


def combine_video_sources(sources: Sequence[np.ndarray],
                          l2_norm: Sequence[bool]) -> np.ndarray:
    """(L_i, D_i) sources -> (min L_i, sum D_i), each L2-normalised if asked.

    The dataset's loading and :class:`sgdetr.apis.MomentPredictor` share it.
    """
    sources = [l2_normalize(s) if norm else s for s, norm in zip(sources, l2_norm)]
    length = min(len(s) for s in sources)
    if len(sources) == 1:
        return sources[0][:length]
    return np.concatenate([s[:length] for s in sources], axis=1)


def layout_names(layout: str) -> tuple:
    """The :data:`LAYOUTS` entry of ``layout``; ValueError naming the layouts."""
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {sorted(LAYOUTS)}, got {layout!r}')
    return LAYOUTS[layout]


def video_feature_path(directory: str, vid: str, layout: str = 'released') -> str:
    """The feature file of video ``vid`` in ``directory``."""
    return osp.join(directory, layout_names(layout)[0].format(vid=vid))


def text_feature_path(directory: str, qid, layout: str = 'released') -> str:
    """The feature file of query ``qid`` in ``directory``."""
    return osp.join(directory, layout_names(layout)[2].format(qid=qid))


def under_root(root: Optional[str], path: str) -> str:
    """``path`` joined to a dataset's ``data_root`` unless absolute or no root."""
    return path if not root or osp.isabs(path) else osp.join(root, path)


class DatasetPaths(NamedTuple):
    """The files a dataset config reads, ``data_root`` applied (None: not set)."""
    ann_file: Optional[str]
    video_dirs: Optional[List[str]]
    text_dir: Optional[str]
    layout: str


def dataset_paths(dataset_cfg: dict) -> DatasetPaths:
    """The annotation file, feature directories and layout of a dataset
    config, resolved as :class:`MomentRetrievalDataset` resolves them (the
    inferencer and the extractors' query lookup read the same files)."""
    root = dataset_cfg.get('data_root') or ''
    ann_file = dataset_cfg.get('ann_file')
    dirs = dataset_cfg.get('video_feat_dirs')
    text_dir = dataset_cfg.get('text_feat_dir')
    return DatasetPaths(
        ann_file=None if ann_file is None else under_root(root, ann_file),
        video_dirs=None if dirs is None else [
            under_root(root, d) for d in ([dirs] if isinstance(dirs, str) else dirs)],
        text_dir=None if text_dir is None else under_root(root, text_dir),
        layout=dataset_cfg.get('feature_layout', 'npz'))


class FeatureStore:
    """Loads video and query features of one dataset, with optional caching.

    Args:
        video_dirs: one or several directories of ``{vid}.npz``.
        text_dir: directory of ``qid{qid}.npz``.
        video_l2_norm: L2-normalise each clip, per source (one bool for all
            sources or one per directory), before concatenation.
        text_l2_norm: L2-normalise each text token.
        video_dim: expected total video feature dim (sum over sources);
            ``None`` accepts whatever the first file has.
        text_dim: expected text feature dim, or ``None``.
        cache: ``False``, ``True`` or ``'preload'`` (see the module doc).
        layout: ``'npz'`` or ``'released'`` (see the module doc).

    Every array a load returns has the dims of the first one loaded (or of
    ``video_dim``/``text_dim``), otherwise :class:`DataError` names the file.
    """

    def __init__(self,
                 video_dirs: Union[str, Sequence[str]],
                 text_dir: str,
                 video_l2_norm: Union[bool, Sequence[bool]] = True,
                 text_l2_norm: bool = True,
                 video_dim: Optional[int] = None,
                 text_dim: Optional[int] = None,
                 cache: Union[bool, str] = False,
                 layout: str = 'npz'):
        self.layout = layout
        (self._video_name, self._video_key, self._text_name,
         self._text_key) = layout_names(layout)
        self.video_dirs: List[str] = ([video_dirs] if isinstance(
            video_dirs, str) else list(video_dirs))
        if not self.video_dirs:
            raise ValueError('video_dirs must name at least one directory')
        self.text_dir = text_dir
        if isinstance(video_l2_norm, bool):
            video_l2_norm = [video_l2_norm] * len(self.video_dirs)
        if len(video_l2_norm) != len(self.video_dirs):
            raise ValueError(f'video_l2_norm has {len(video_l2_norm)} entries'
                             f' for {len(self.video_dirs)} video dirs')
        self.video_l2_norm = list(video_l2_norm)
        self.text_l2_norm = text_l2_norm
        if cache not in (False, True, 'preload'):
            raise ValueError(f"cache must be False, True or 'preload', got "
                             f'{cache!r}')
        self.cache_mode = cache
        self._cache: Optional[Dict[Hashable, np.ndarray]] = (
            {} if cache else None)
        # Dims of every source, fixed by the config or by the first file read
        # so that one odd file is caught where it is, not as a shape error in
        # the batch that contains it.
        self._expected_video_dim = video_dim
        self._source_dims: Optional[List[int]] = None
        self._text_dim = text_dim
        self.num_reads = 0  # files read from disk, for cache diagnostics

    # -- paths ---------------------------------------------------------------
    def video_paths(self, vid: str) -> List[str]:
        return [video_feature_path(d, vid, self.layout) for d in self.video_dirs]

    def text_path(self, qid) -> str:
        return text_feature_path(self.text_dir, qid, self.layout)

    def find_missing(self, vids: Iterable[str], qids: Iterable) -> List[str]:
        """Every feature file that ``vids``/``qids`` need and that is absent.

        One directory listing per directory (not one ``stat`` per file), so
        checking a whole split at start-up takes milliseconds.
        """
        vids, qids = sorted(set(vids)), list(dict.fromkeys(qids))
        missing = []
        for directory in self.video_dirs:
            present = _list_dir(directory)
            names = [self._video_name.format(vid=v) for v in vids]
            missing += [osp.join(directory, n) for n in names if n not in present]
        present = _list_dir(self.text_dir)
        names = [self._text_name.format(qid=q) for q in qids]
        missing += [osp.join(self.text_dir, n) for n in names if n not in present]
        return missing

    # -- loading -------------------------------------------------------------
    def load_video(self, vid: str) -> np.ndarray:
        """(L, Dv) float32 features of ``vid``, all sources concatenated."""
        key = ('video', vid)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        paths = self.video_paths(vid)
        sources = []
        for path in paths:
            sources.append(read_pt_array(path) if self._video_key is None else
                           read_npz_array(path, self._video_key))
            self.num_reads += 1
        self._check_video_dims(paths, [s.shape[1] for s in sources])
        return self._remember(key, combine_video_sources(sources, self.video_l2_norm))

    def load_text(self, qid) -> np.ndarray:
        """(N, Dt) float32 token features of query ``qid``."""
        key = ('text', qid)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        path = self.text_path(qid)
        text = read_npz_array(path, self._text_key)
        self.num_reads += 1
        problem = self._text_dim_problem(path, text.shape[1])
        if problem is not None:
            raise DataError(problem)
        if self.text_l2_norm:
            text = l2_normalize(text)
        return self._remember(key, text)

    def scan(self, vids: Iterable[str], qids: Iterable, keep: bool = False,
             num_threads: Optional[int] = None, progress: Optional[bool] = None
             ) -> Tuple[Dict[str, int], List[str]]:
        """Read every file of ``vids`` and ``qids`` once and check it.

        Each file is checked as reading a sample checks it (a readable,
        non-empty 2D numeric array without NaN/Inf under the expected key),
        and its dim against ``video_dim``/``text_dim`` or, when those are
        None, against the first video (query) listed. Files are read by
        ``num_threads`` threads (default: up to 8); a progress bar is shown
        for large sets (``progress=None``: from 2000 files on).

        Args:
            keep: cache what was read (a store with a cache).

        Returns:
            (number of clips per readable video, one message per bad file,
            in the order of ``vids`` then ``qids``).
        """
        vids, qids = list(dict.fromkeys(vids)), list(dict.fromkeys(qids))
        tasks = [('video', vid) for vid in vids] + [('text', qid) for qid in qids]
        if num_threads is None:
            num_threads = min(8, os.cpu_count() or 1)
        if progress is None:
            progress = len(tasks) >= 2000
        bar = None
        if progress:
            print(f'checking {len(tasks)} feature files')
            bar = ProgressBar(len(tasks))

        def read(task):
            kind, key = task
            try:
                if kind == 'video':
                    arrays = [read_pt_array(p) if self._video_key is None else
                              read_npz_array(p, self._video_key)
                              for p in self.video_paths(key)]
                else:
                    arrays = [read_npz_array(self.text_path(key), self._text_key)]
            except DataError as error:
                return task, None, None, str(error)
            summary = ([a.shape[1] for a in arrays], min(len(a) for a in arrays))
            return task, summary, arrays if keep else None, None

        lengths, problems = {}, []
        with ThreadPoolExecutor(max(1, num_threads)) as pool:
            for (kind, key), summary, arrays, problem in pool.map(read, tasks):
                if bar is not None:
                    bar.update()
                if problem is None:
                    dims, length = summary
                    self.num_reads += len(dims)
                    problem = (self._video_dims_problem(self.video_paths(key), dims)
                               if kind == 'video' else
                               self._text_dim_problem(self.text_path(key), dims[0]))
                if problem is not None:
                    problems.append(problem)
                    continue
                if kind == 'video':
                    lengths[key] = length
                if keep and self._cache is not None:
                    if kind == 'video':
                        array = combine_video_sources(arrays, self.video_l2_norm)
                    else:
                        array = l2_normalize(arrays[0]) if self.text_l2_norm else arrays[0]
                    self._remember((kind, key), array)
        if bar is not None:
            print()
        return lengths, problems

    def preload(self, vids: Iterable[str], qids: Iterable) -> None:
        """Read every listed file into the cache (``cache='preload'``)."""
        for vid in dict.fromkeys(vids):
            self.load_video(vid)
        for qid in dict.fromkeys(qids):
            self.load_text(qid)

    @property
    def video_dim(self) -> Optional[int]:
        return (sum(self._source_dims) if self._source_dims is not None else
                self._expected_video_dim)

    @property
    def text_dim(self) -> Optional[int]:
        return self._text_dim

    def _check_video_dims(self, paths: List[str], dims: List[int]) -> None:
        problem = self._video_dims_problem(paths, dims)
        if problem is not None:
            raise DataError(problem)

    def _video_dims_problem(self, paths: List[str], dims: List[int]) -> Optional[str]:
        if self._source_dims is None:
            if (self._expected_video_dim is not None
                    and sum(dims) != self._expected_video_dim):
                per_source = ', '.join(f'{p}: {d}'
                                       for p, d in zip(paths, dims))
                return (f'video feature dim {sum(dims)} ({per_source}) differs '
                        f'from the config `video_dim`={self._expected_video_dim}')
            self._source_dims = dims
            return None
        for path, dim, expected in zip(paths, dims, self._source_dims):
            if dim != expected:
                return (f'{path}: video feature dim {dim} differs '
                        f'from {expected} of the other files in '
                        f'{osp.dirname(path)}')
        return None

    def _text_dim_problem(self, path: str, dim: int) -> Optional[str]:
        if self._text_dim is None:
            self._text_dim = dim
        elif dim != self._text_dim:
            return (f'{path}: text feature dim {dim} '
                    f'differs from the expected {self._text_dim} '
                    f'(config `text_dim` or the first file read)')
        return None

    def _remember(self, key: Hashable, array: np.ndarray) -> np.ndarray:
        if self._cache is not None:
            # Read-only: a consumer that edits a cached array in place would
            # silently corrupt every later epoch.
            array.flags.writeable = False
            self._cache[key] = array
        return array


def _list_dir(directory: str) -> set:
    try:
        with os.scandir(directory) as entries:
            return {entry.name for entry in entries}
    except FileNotFoundError as error:
        raise DataError(f'{directory}: feature directory not found'
                        ) from error
    except NotADirectoryError as error:
        raise DataError(f'{directory}: feature path is not a directory'
                        ) from error
