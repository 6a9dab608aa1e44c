"""Decoding videos into the frames of fixed-length clips.

A video of ``duration`` seconds has ``L = ceil(duration / clip_len)`` clips
(a last clip shorter than a tenth of ``clip_len`` is dropped), clip ``i``
covering ``[i * clip_len, (i + 1) * clip_len)``. Each clip is represented by
``frames_per_clip`` frames at the centres of equal sub-intervals, each the
frame on screen at that time (the last decoded frame past the end of the
stream). Frames are decoded with PyAV (``pip install av``), or decord when
asked for and installed, and scaled so that their short side is
``short_side`` pixels while decoding, so a long video never sits in memory
at full resolution.
"""
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import numpy as np

VIDEO_EXTENSIONS = ('.mp4', '.mkv', '.avi', '.mov', '.webm', '.m4v', '.mpg', '.mpeg',
                    '.flv', '.wmv', '.ts', '.3gp')
#: a last clip shorter than this fraction of ``clip_len`` is dropped
LAST_CLIP_MIN_FRACTION = 0.1


@dataclass
class VideoInfo:
    """What the container says about its first video stream."""
    path: str
    duration: Optional[float]  # seconds, None when the container does not say
    fps: Optional[float]
    width: int
    height: int


def is_video_file(path: str) -> bool:
    return osp.isfile(path) and osp.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def list_videos(path: str, recursive: bool = False) -> List[str]:
    """A video file, or the video files of a directory (sorted)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path}: no such video file or directory')
    found = []
    if recursive:
        for root, _, names in os.walk(path):
            found += [osp.join(root, n) for n in names]
    else:
        found = [osp.join(path, n) for n in os.listdir(path)]
    return sorted(p for p in found if is_video_file(p))


def num_clips(duration: float, clip_len: float) -> int:
    """Clips of a video of ``duration`` seconds (at least one)."""
    return max(1, math.ceil(duration / clip_len - LAST_CLIP_MIN_FRACTION))


def sample_times(clips: int, clip_len: float, frames_per_clip: int) -> np.ndarray:
    """(clips, frames_per_clip) sampling times in seconds."""
    offsets = (np.arange(frames_per_clip) + 0.5) * clip_len / frames_per_clip
    return np.arange(clips)[:, None] * clip_len + offsets[None, :]


def resolve_backend(backend: str = 'auto') -> str:
    if backend not in ('auto', 'pyav', 'decord'):
        raise ValueError(f"backend must be 'auto', 'pyav' or 'decord', got {backend!r}")
    if backend != 'auto':
        return backend
    try:
        import av  # noqa: F401
        return 'pyav'
    except ImportError:
        pass
    try:
        import decord  # noqa: F401
        return 'decord'
    except ImportError:
        raise ImportError('decoding videos needs PyAV or decord: pip install av '
                          '(or pip install -e ".[video]")') from None


def _scaled_size(width: int, height: int, short_side: Optional[int]) -> Tuple[int, int]:
    if not short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(short_side, round(width * scale)), max(short_side, round(height * scale))


def probe_video(path: str, backend: str = 'auto') -> VideoInfo:
    """Duration, frame rate and size of the first video stream."""
    backend = resolve_backend(backend)
    if backend == 'decord':
        reader = _decord_reader(path)
        fps = float(reader.get_avg_fps())
        height, width = reader[0].shape[:2]
        return VideoInfo(path, len(reader) / fps if fps else None, fps or None, width, height)
    import av
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such video file')
    try:
        container = av.open(path)
    except av.FFmpegError as error:
        raise ValueError(f'{path}: cannot open video ({error})') from error
    with container:
        if not container.streams.video:
            raise ValueError(f'{path}: no video stream')
        stream = container.streams.video[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(path, duration, float(rate) if rate else None,
                         stream.codec_context.width, stream.codec_context.height)


def iter_clip_frames(path: str, clip_len: float = 2.0, frames_per_clip: int = 1,
                     short_side: Optional[int] = None, backend: str = 'auto',
                     duration: Optional[float] = None) -> Iterator[np.ndarray]:
    """The frames of each clip, in order: one uint8 (F, H, W, 3) RGB array per clip.

    Args:
        path: the video file.
        clip_len: seconds per clip.
        frames_per_clip: frames sampled per clip (F).
        short_side: scale frames so that their short side has this many
            pixels (``None``: as decoded).
        backend: ``'pyav'``, ``'decord'`` or ``'auto'`` (PyAV if installed).
        duration: the clip count's duration; default the stream's own
            (or, when the container does not say, up to its last frame).
    """
    if clip_len <= 0 or frames_per_clip < 1:
        raise ValueError('need clip_len > 0 and frames_per_clip >= 1')
    backend = resolve_backend(backend)
    if backend == 'decord':
        yield from _decord_clips(path, clip_len, frames_per_clip, short_side, duration)
    else:
        yield from _pyav_clips(path, clip_len, frames_per_clip, short_side, duration)


def _pyav_clips(path, clip_len, frames_per_clip, short_side, duration):
    import av
    info = probe_video(path, 'pyav')
    duration = info.duration if duration is None else duration
    total = num_clips(duration, clip_len) if duration else None
    width, height = _scaled_size(info.width, info.height, short_side)
    per_clip = frames_per_clip

    def target(k: int) -> float:
        return (k // per_clip) * clip_len + (k % per_clip + 0.5) * clip_len / per_clip

    converted = {}

    def rgb(frame) -> np.ndarray:
        key = id(frame)
        if key not in converted:
            converted.clear()
            converted[key] = frame.reformat(width=width, height=height,
                                            format='rgb24').to_ndarray()
        return converted[key]

    clip, k, previous, last_time = [], 0, None, 0.0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        start = (float(stream.start_time * stream.time_base)
                 if stream.start_time is not None and stream.time_base is not None else 0.0)
        try:
            for frame in container.decode(stream):
                time = frame.time - start if frame.time is not None else last_time
                last_time = time
                while (total is None or k < total * per_clip) and target(k) < time:
                    clip.append(rgb(previous if previous is not None else frame))
                    k += 1
                    if len(clip) == per_clip:
                        yield np.stack(clip)
                        clip = []
                if total is not None and k >= total * per_clip:
                    return
                previous = frame
        except av.FFmpegError as error:
            if previous is None:
                raise ValueError(f'{path}: cannot decode ({error})') from error
            # A damaged tail: the clips left repeat the last good frame.
        if previous is None:
            raise ValueError(f'{path}: no decodable video frame')
        if total is None:
            total = num_clips(last_time + 1e-6, clip_len)
        while k < total * per_clip:
            clip.append(rgb(previous))
            k += 1
            if len(clip) == per_clip:
                yield np.stack(clip)
                clip = []


def _decord_reader(path, width=-1, height=-1):
    from decord import VideoReader, cpu
    try:
        return VideoReader(path, ctx=cpu(0), width=width, height=height)
    except Exception as error:  # decord raises its own DECORDError
        raise ValueError(f'{path}: cannot open video ({error})') from error


def _decord_clips(path, clip_len, frames_per_clip, short_side, duration):
    probe = _decord_reader(path)
    height, width = probe[0].shape[:2]
    fps = float(probe.get_avg_fps())
    count = len(probe)
    del probe
    width, height = _scaled_size(width, height, short_side)
    reader = _decord_reader(path, width, height)
    duration = count / fps if duration is None else duration
    times = sample_times(num_clips(duration, clip_len), clip_len, frames_per_clip)
    for row in times:
        indices = np.clip(np.floor(row * fps).astype(int), 0, count - 1)
        yield reader.get_batch(indices.tolist()).asnumpy()
