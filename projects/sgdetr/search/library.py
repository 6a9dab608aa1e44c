"""The files of a library and what changed since they were indexed.

A library is one directory of per-video files, the video id being the file
name without its extension: feature files (``.pt``, ``.npz``, ``.npy``; the
``'released'`` and ``'npz'`` layouts of the dataset configs) or video files
(indexed through a video encoder). A file counts as changed when its size or
modification time differs (``detect='stat'``) or, with ``detect='hash'``,
when its SHA-256 does (every file is then read at every update).
"""
import hashlib
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.features import clip_count_disagrees
from sgdetr.errors import DataError
from .store import VideoRecord

FEATURE_EXTENSIONS = ('.pt', '.npz', '.npy')
DETECT_MODES = ('stat', 'hash')


@dataclass(frozen=True)
class FileState:
    path: str
    size: int
    mtime_ns: int


@dataclass
class UpdatePlan:
    """vids to embed (``new``, ``changed``), to drop (``removed``), whose stored
    file state only needs refreshing (``touched``: same content, new mtime) and
    the rest (``unchanged``); ``hashes`` holds the SHA-256 computed on the way."""
    new: List[str] = field(default_factory=list)
    changed: List[str] = field(default_factory=list)
    removed: List[str] = field(default_factory=list)
    touched: List[str] = field(default_factory=list)
    unchanged: List[str] = field(default_factory=list)
    hashes: Dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> List[str]:
        return sorted(self.new + self.changed)


def scan_library(directory: str, extensions: Sequence[str]) -> Dict[str, FileState]:
    """``vid -> FileState`` of the files of ``directory`` with one of ``extensions``.

    Raises:
        DataError: the directory is missing, or two files share a video id.
    """
    if not osp.isdir(directory):
        raise DataError(f'{directory}: library directory not found')
    found: Dict[str, FileState] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            stem, extension = osp.splitext(entry.name)
            if extension.lower() not in extensions or not entry.is_file():
                continue
            if stem in found:
                raise DataError(f'{found[stem].path} and {entry.path}: two files of video '
                                f'{stem!r}; keep one')
            info = entry.stat()
            found[stem] = FileState(osp.abspath(entry.path), info.st_size, info.st_mtime_ns)
    return found


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def plan_update(stored: Dict[str, VideoRecord], found: Dict[str, FileState],
                detect: str = 'stat') -> UpdatePlan:
    """Compare the indexed videos with the files found now."""
    if detect not in DETECT_MODES:
        raise ValueError(f'detect must be one of {DETECT_MODES}, got {detect!r}')
    plan = UpdatePlan(removed=sorted(set(stored) - set(found)))
    for vid in sorted(found):
        state, record = found[vid], stored.get(vid)
        same_stat = record is not None and (record.path, record.size, record.mtime_ns) == (
            state.path, state.size, state.mtime_ns)
        if detect == 'hash':
            plan.hashes[vid] = file_sha256(state.path)
        if record is None:
            plan.new.append(vid)
        elif detect == 'stat':
            (plan.unchanged if same_stat else plan.changed).append(vid)
        elif record.sha256 != plan.hashes[vid] or record.path != state.path:
            plan.changed.append(vid)
        else:
            (plan.unchanged if same_stat else plan.touched).append(vid)
    return plan


def stale_problem(record: VideoRecord) -> Optional[str]:
    """Why ``record``'s file no longer is what was indexed, or None."""
    try:
        info = os.stat(record.path)
    except FileNotFoundError:
        return f'{record.path}: removed since it was indexed'
    if (info.st_size, info.st_mtime_ns) != (record.size, record.mtime_ns):
        return f'{record.path}: changed since it was indexed (size or modification time)'
    return None


def read_durations(source) -> Dict[str, float]:
    """``vid -> seconds`` from a dict or from JSON lines with ``vid`` and
    ``duration`` (annotation files qualify: their queries of one video must agree).

    Raises:
        DataError: naming ``file:line`` for a missing, non-positive or
            conflicting duration.
    """
    if source is None:
        return {}
    if isinstance(source, dict):
        return {str(vid): float(seconds) for vid, seconds in source.items()}
    durations: Dict[str, float] = {}
    for line, record in read_jsonl(source):
        vid, seconds = record.get('vid'), record.get('duration')
        if vid is None or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise DataError(f'{source}:{line}: needs "vid" and a positive "duration"')
        vid = str(vid)
        if vid in durations and abs(durations[vid] - seconds) > 1e-6:
            raise DataError(f'{source}:{line}: duration {seconds:g} s of video {vid!r} '
                            f'disagrees with {durations[vid]:g} s on an earlier line')
        durations[vid] = float(seconds)
    return durations


def length_problem(path: str, num_clips: int, duration: float, clip_len: float,
                   source: str = 'the given duration', tolerance: float = 0.1) -> Optional[str]:
    """The dataset's rule: the clip count may differ from ``duration / clip_len``
    by ``tolerance`` of it, and by at least 2 clips."""
    expected = duration / clip_len
    if clip_count_disagrees(num_clips, expected, tolerance):
        return (f'{path}: {num_clips} clips, but the duration {duration:g} s ({source}) '
                f'implies {expected:.1f} clips of {clip_len:g} s; wrong duration or feature file?')
    return None
