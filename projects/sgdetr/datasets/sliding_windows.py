"""Whole videos of any length: overlapping windows of the trained length.

The released model reads at most ``max_clips`` clips (75 on QVHighlights).
At test time :class:`SlidingWindows` cuts a longer video into overlapping
windows of exactly that many clips and runs the rest of the pipeline on each
window as if it were a video of its own (its own temporal endpoints, its own
padding); the model predicts every window and merges them back onto the
video's timeline (:func:`sgdetr.models.postprocess.merge_windows`).
:func:`moment_collate` lays the windows of every sample of a batch side by
side. A video that fits one window goes through the inner transforms
untouched, so its output is exactly the single-window one.

In training :class:`RandomClipCrop` is the optional alternative to the
released truncation: a seeded random crop of ``max_clips`` clips that keeps
the query's windows.
"""
from typing import List, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmengine.dataset import pseudo_collate

from ..registry import FUNCTIONS, TRANSFORMS

#: metainfo of a window sample: where it sits in its video.
WINDOW_META_KEYS = ('window_index', 'num_windows', 'window_start', 'video_num_clips',
                    'video_duration')


def window_starts(num_clips: int, window: int, stride: int) -> np.ndarray:
    """First clip of every window: ``0, stride, 2 * stride, ...``, the last
    one moved back so that it ends on the video's last clip.

    Returns:
        (W,) int64, W = 1 when ``num_clips <= window``.
    """
    if num_clips <= window:
        return np.zeros(1, np.int64)
    starts = np.arange(0, num_clips - window, stride, dtype=np.int64)
    return np.append(starts, num_clips - window)


def cut_clips(results: dict, start: int, length: int, clip_len: float) -> dict:
    """``results`` of clips ``start .. start + length - 1`` as a video of its own:
    ground-truth windows and saliency clip ids moved by the start (those
    outside dropped), per-video labels dropped; ``results`` is not modified."""
    end = start + length
    cut = {k: v for k, v in results.items() if k != 'label'}
    cut['num_clips'] = length
    if 'video' in results:
        cut['video'] = results['video'][start:end]
    offset = start * clip_len
    # the cut's own timeline; the merge clips to the video's duration
    cut['duration'] = min(float(results['duration']) - offset, length * clip_len)
    if results.get('windows') is not None:
        moved = results['windows'] - offset
        cut['windows'] = moved[(moved[:, 1] > 0) & (moved[:, 0] < length * clip_len)]
    if results.get('saliency_clip_ids') is not None:
        ids = np.asarray(results['saliency_clip_ids']) - start
        inside = (ids >= 0) & (ids < length)
        cut['saliency_clip_ids'] = ids[inside]
        cut['saliency_scores'] = np.asarray(results['saliency_scores'])[inside]
    return cut


@TRANSFORMS.register_module()
class SlidingWindows(BaseTransform):
    """Run ``transforms`` on every ``window``-clip window of a longer video.

    Each window is the video's ``video[start:start + window]`` with
    ``num_clips = window``; its ground-truth windows and saliency clip ids are
    moved by the window's start (those outside it dropped), per-video labels
    are dropped, and the packed sample's metainfo gets
    ``window_index, num_windows, window_start`` (clips), ``video_num_clips``
    and ``video_duration``.

    Args:
        window: clips per window, the model's trained length (``max_clips``).
        stride: clips between window starts (default ``window * 3 // 4``:
            a quarter of each window overlaps the next, so every moment of up
            to a quarter of a window lies whole inside some window).
        transforms: the per-window pipeline (endpoints, padding, targets,
            packing).
    Returns:
        the packed sample of ``transforms`` when the video fits one window;
        else ``dict(inputs=[...], data_samples=[...])``, one entry per window
        (:func:`moment_collate` flattens them into the batch).
    """

    def __init__(self, window: int, stride: Optional[int] = None,
                 transforms: Sequence[dict] = ()):
        if window < 1:
            raise ValueError(f'SlidingWindows: window must be >= 1 clip, got {window}')
        stride = window * 3 // 4 if stride is None else stride
        if not 1 <= stride <= window:
            raise ValueError(f'SlidingWindows: stride must be in [1, window={window}] clips, '
                             f'got {stride} (a larger stride would skip clips)')
        self.window, self.stride = int(window), int(stride)
        self.transforms = Compose(list(transforms))

    def transform(self, results: dict) -> dict:
        num_clips = int(results['num_clips'])
        if num_clips <= self.window:
            return self.transforms(results)
        starts = window_starts(num_clips, self.window, self.stride)
        clip_len = float(results['clip_len'])
        packed = [self.transforms(cut_clips(results, int(s), self.window, clip_len))
                  for s in starts]
        for index, (start, sample) in enumerate(zip(starts, packed)):
            sample['data_samples'].set_metainfo(dict(
                window_index=index, num_windows=len(starts), window_start=int(start),
                video_num_clips=num_clips, video_duration=float(results['duration'])))
        return dict(inputs=[p['inputs'] for p in packed],
                    data_samples=[p['data_samples'] for p in packed])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(window={self.window}, stride={self.stride}, '
                f'transforms={self.transforms!r})')


@FUNCTIONS.register_module()
def moment_collate(data_batch: Sequence[dict]) -> dict:
    """:func:`mmengine.dataset.pseudo_collate`, with the windows of a long
    video (a sample whose ``data_samples`` is a list) laid side by side, in
    order, as samples of the batch."""
    flat: List[dict] = []
    for item in data_batch:
        if isinstance(item.get('data_samples'), (list, tuple)):
            flat += [dict(inputs=i, data_samples=s)
                     for i, s in zip(item['inputs'], item['data_samples'])]
        else:
            flat.append(item)
    return pseudo_collate(flat)


@TRANSFORMS.register_module()
class RandomClipCrop(BaseTransform):
    """Training alternative to the released truncation: keep a random run of
    ``max_clips`` clips that contains every window of the query (or, when
    they span more than ``max_clips``, starts at the first window).

    Uses the module-level numpy random state, which MMEngine seeds per
    dataloader worker, so a seeded run crops the same way every time.
    Windows and saliency clip ids are moved with the crop.

    Args:
        max_clips: the crop's length in clips.
    """

    def __init__(self, max_clips: int):
        self.max_clips = int(max_clips)

    def transform(self, results: dict) -> dict:
        num_clips = int(results['num_clips'])
        if num_clips <= self.max_clips:
            return results
        if 'label' in results:
            raise ValueError('RandomClipCrop: per-video saliency labels cannot be cropped; '
                             'use TruncateFeatures for this dataset')
        clip_len = float(results['clip_len'])
        windows = results.get('windows')
        lowest, highest = 0, num_clips - self.max_clips
        if windows is not None and len(windows):
            first = int(np.floor(windows[:, 0].min() / clip_len))
            last = int(np.ceil(windows[:, 1].max() / clip_len))
            lowest = min(max(0, last - self.max_clips), highest)
            highest = max(min(first, highest), lowest)
        start = int(np.random.randint(lowest, highest + 1))
        return cut_clips(results, start, self.max_clips, clip_len)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(max_clips={self.max_clips})'
