"""Video files -> clip features; queries -> token features; whole directories, resumable."""
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .base import TextEncoder, VideoEncoder
from .feature_files import save_text_features, save_video_features, text_feature_path, \
    video_feature_path
from .video_io import iter_clip_frames, num_clips, probe_video


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(total: Optional[int], desc: str, enabled: bool = True, unit: str = 'clip'):
    """A tqdm bar when tqdm is installed and ``enabled``, else a silent stand-in."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


def extract_video(path: str, encoder: VideoEncoder, clip_len: float = 2.0,
                  batch_size: int = 16, backend: str = 'auto',
                  progress: bool = False) -> Tuple[np.ndarray, float]:
    """Clip features of one video file.

    Args:
        path: the video.
        encoder: a :class:`VideoEncoder`; its ``frames_per_clip`` and
            ``image_size`` drive the sampling.
        clip_len: seconds per clip (the config's ``clip_len``).
        batch_size: clips per forward.
        backend: decoder (``'auto'``, ``'pyav'``, ``'decord'``).
        progress: show a progress bar.

    Returns:
        ``(features (L, D) float32, duration in seconds)``.
    """
    info = probe_video(path, backend)
    total = num_clips(info.duration, clip_len) if info.duration else None
    bar = progress_bar(total, osp.basename(path), progress)
    chunks, batch = [], []

    def flush():
        chunks.append(encoder.encode_clips(torch.from_numpy(np.stack(batch))))
        bar.update(len(batch))
        batch.clear()

    try:
        for frames in iter_clip_frames(path, clip_len, encoder.frames_per_clip,
                                       encoder.image_size, backend):
            batch.append(frames)
            if len(batch) == batch_size:
                flush()
        if batch:
            flush()
    finally:
        bar.close()
    features = torch.cat(chunks).numpy().astype(np.float32, copy=False)
    duration = info.duration if info.duration else len(features) * clip_len
    return features, float(duration)


def encode_queries(texts: Sequence[str], encoder: TextEncoder) -> List[np.ndarray]:
    """(N_i, D) float32 token features of every query."""
    return [t.numpy().astype(np.float32, copy=False) for t in encoder.encode(list(texts))]


def video_id(path: str) -> str:
    """The ``vid`` of a video file: its name without the extension."""
    return osp.splitext(osp.basename(path))[0]


def extract_videos(paths: Iterable[str], encoder: VideoEncoder, out_dir: str,
                   clip_len: float = 2.0, layout: str = 'released', batch_size: int = 16,
                   overwrite: bool = False, backend: str = 'auto', progress: bool = True,
                   vid_of: Callable[[str], str] = video_id,
                   log: Callable[[str], None] = print) -> Dict[str, list]:
    """Clip features of many videos, one file per video in ``out_dir``.

    Videos whose feature file already exists are skipped (unless
    ``overwrite``), so an interrupted run resumes where it stopped; a video
    that fails is reported and the others go on.

    Returns:
        dict ``written`` / ``skipped`` (vids), ``failed`` ((path, error) pairs),
        ``durations`` (vid -> seconds, written ones).
    """
    paths = list(paths)
    summary = dict(written=[], skipped=[], failed=[], durations={})
    bar = progress_bar(len(paths), 'videos', progress, unit='video')
    try:
        for path in paths:
            vid = vid_of(path)
            target = video_feature_path(out_dir, vid, layout)
            if osp.exists(target) and not overwrite:
                summary['skipped'].append(vid)
                bar.update()
                continue
            try:
                features, duration = extract_video(path, encoder, clip_len, batch_size, backend,
                                                   progress)
            except (ValueError, OSError, RuntimeError) as error:
                summary['failed'].append((path, str(error)))
                log(f'{path}: failed ({error})')
                bar.update()
                continue
            save_video_features(features, out_dir, vid, layout)
            summary['written'].append(vid)
            summary['durations'][vid] = duration
            bar.update()
    finally:
        bar.close()
    return summary


def extract_queries(queries: Iterable[Tuple[object, str]], encoder: TextEncoder, out_dir: str,
                    layout: str = 'released', batch_size: int = 256, overwrite: bool = False,
                    progress: bool = True) -> Dict[str, list]:
    """Token features of ``(qid, text)`` pairs, one file per query in ``out_dir``
    (existing files are skipped unless ``overwrite``)."""
    pending, summary = [], dict(written=[], skipped=[])
    for qid, text in queries:
        if osp.exists(text_feature_path(out_dir, qid, layout)) and not overwrite:
            summary['skipped'].append(qid)
        else:
            pending.append((qid, text))
    bar = progress_bar(len(pending), 'queries', progress, unit='query')
    try:
        for start in range(0, len(pending), batch_size):
            chunk = pending[start:start + batch_size]
            for (qid, _), tokens in zip(chunk, encode_queries([t for _, t in chunk], encoder)):
                save_text_features(tokens, out_dir, qid, layout)
                summary['written'].append(qid)
            bar.update(len(chunk))
    finally:
        bar.close()
    return summary
