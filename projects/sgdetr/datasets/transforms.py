"""Pipeline transforms: annotation record + features -> training targets ->
packed ``dict(inputs, data_samples)``.

The dataset reads features and annotations (it owns the file checks and the
cache) and hands every sample to its pipeline as a ``results`` dict::

    video (L, Dv) float32, text (N, Dt) float32 (both L2-normalised),
    qid, vid, query, duration, clip_len, num_clips (= L), domain (optional),
    windows (K, 2) seconds | None,
    saliency_clip_ids (M,) + saliency_scores (M, A) | None, label (R, A) | None

The released SG-DETR pipeline (the dataset configs spell it out) is::

    TruncateFeatures -> AppendTemporalEndpoints -> PadClips(4)
    -> BuildMomentTargets -> PackMomentInputs

and :class:`sgdetr.apis.MomentPredictor` runs the same list on raw features.
The dataset's default is ``[BuildMomentTargets(), PackMomentInputs()]``.
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from ..registry import TRANSFORMS
from ..structures import MomentDataSample

DEFAULT_META_KEYS = ('qid', 'vid', 'query', 'duration', 'clip_len',
                     'num_clips', 'num_real_clips', 'timeline', 'domain',
                     'sample_idx')


def binary_saliency_from_windows(windows: np.ndarray, num_clips: int,
                                 clip_len: float) -> np.ndarray:
    """1 for clips that overlap a window by more than half a clip.

    A window shorter than half a clip would otherwise have no positive clip
    at all, so the clip it overlaps most is always positive too.

    Args:
        windows: (K, 2) seconds.
    Returns:
        (L, 1) float32 in {0, 1}.
    """
    clip_start = np.arange(num_clips) * clip_len
    overlap = (np.minimum(windows[None, :, 1], clip_start[:, None] + clip_len)
               - np.maximum(windows[None, :, 0], clip_start[:, None]))
    overlap = overlap.clip(min=0.0)  # (L, K)
    positive = (overlap > 0.5 * clip_len).any(axis=1)
    touches = overlap.max(axis=0) > 0  # windows still inside the timeline
    positive[overlap.argmax(axis=0)[touches]] = True
    return positive.astype(np.float32)[:, None]


def sample_saliency_pairs(saliency: np.ndarray, relevant: np.ndarray,
                          num_clips: int, rng=np.random) -> tuple:
    """The released clip pairs of the margin loss: (hard, easy) positives and negatives.

    Hard: the relevant clip with the highest summed score and the one with
    the lowest. Easy: a random relevant clip and a random clip outside the
    relevant ones (any of the ``num_clips``, padding included); when every
    clip is relevant the hard pair is used twice.

    Args:
        saliency: (L, A) per-clip scores.  relevant: (M,) ids of the relevant
            clips (ascending).
        rng: numpy random state/generator (the module-level one by default,
            which MMEngine seeds per dataloader worker).
    Returns:
        pos_clip_indices (2,) int64, neg_clip_indices (2,) int64; -1 without
        relevant clips.
    """
    if relevant.size == 0:
        none = np.full(2, -1, dtype=np.int64)
        return none, none.copy()
    relevant = np.minimum(relevant, num_clips - 1)
    order = np.argsort(saliency[relevant].sum(axis=1), kind='stable')
    hard_pos, hard_neg = relevant[order[-1]], relevant[order[0]]
    others = np.setdiff1d(np.arange(num_clips), relevant)
    if others.size:
        easy_pos, easy_neg = rng.choice(relevant), rng.choice(others)
    else:
        easy_pos, easy_neg = hard_pos, hard_neg
    return (np.array([hard_pos, easy_pos], dtype=np.int64),
            np.array([hard_neg, easy_neg], dtype=np.int64))


@TRANSFORMS.register_module()
class TruncateFeatures(BaseTransform):
    """Keep at most ``max_clips`` clips and ``max_tokens`` text tokens.

    The timeline then shrinks with the video (windows past it are dropped by
    :class:`BuildMomentTargets`). Without features (annotation-only mode)
    ``num_clips`` is capped.

    Args:
        max_clips: None keeps every clip.  max_tokens: None keeps every token.
    """

    def __init__(self, max_clips: Optional[int] = None, max_tokens: Optional[int] = None):
        self.max_clips, self.max_tokens = max_clips, max_tokens

    def transform(self, results: dict) -> dict:
        if 'video' in results:
            results['video'] = results['video'][:self.max_clips]
            results['num_clips'] = len(results['video'])
        elif self.max_clips is not None:
            results['num_clips'] = min(results['num_clips'], self.max_clips)
        if 'text' in results:
            results['text'] = results['text'][:self.max_tokens]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(max_clips={self.max_clips}, max_tokens={self.max_tokens})'


@TRANSFORMS.register_module()
class AppendTemporalEndpoints(BaseTransform):
    """Append each clip's normalised start and end, ``i / L`` and ``(i + 1) / L``.

    (L, Dv) -> (L, Dv + 2); the released model reads 514-d clips for
    512-d InternVideo2 features.
    """

    def transform(self, results: dict) -> dict:
        if 'video' in results:
            video = results['video']
            length = len(video)
            start = np.arange(length, dtype=np.float32) / np.float32(length)
            end = start + 1.0 / length
            results['video'] = np.concatenate(
                [video, np.stack([start, end], axis=1).astype(video.dtype)], axis=1)
        return results


@TRANSFORMS.register_module()
class PadClips(BaseTransform):
    """Append zero clips up to a multiple of ``multiple`` (the pyramid's largest stride).

    As released, the padded clips then count as clips of the video: the
    timeline (the unit of spans) is ``num_clips * clip_len`` of the padded
    length, and the saliency targets of the padded clips are 0.
    ``num_real_clips`` keeps the length before padding.

    Args:
        multiple: 4 for the four-level pyramid.
    """

    def __init__(self, multiple: int = 4):
        self.multiple = multiple

    def transform(self, results: dict) -> dict:
        length = results['num_clips']
        results['num_real_clips'] = length
        padded = -(-length // self.multiple) * self.multiple
        if 'video' in results and padded > length:
            video = results['video']
            results['video'] = np.concatenate(
                [video, np.zeros((padded - length, video.shape[1]), video.dtype)])
        results['num_clips'] = padded
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(multiple={self.multiple})'


@TRANSFORMS.register_module()
class BuildMomentTargets(BaseTransform):
    """Normalised GT spans, per-clip saliency and ranking clip pairs.

    Adds to ``results``:

    - ``timeline``: ``num_clips * clip_len`` seconds, the unit of spans;
    - ``gt_spans``: (K, 2) float32 windows divided by the timeline, clipped
      to [0, 1]; windows that start at or after the end of a (truncated)
      timeline are dropped.  K = 0 without windows;
    - ``gt_saliency``: (L, A) float32, only when the sample has saliency:
      QVHighlights-style ``saliency_scores`` on their clip ids (0 elsewhere,
      ids beyond L dropped); else ``label`` rows (R, A), taken as evenly
      covering the duration, each clip getting the row at its centre (row i
      = clip i when ``clip_len = duration / R``; clips past the labelled
      duration get 0); else, if ``binary_saliency``, 1 for clips that
      overlap a window by more than half a clip (A = 1);
    - ``pos_clip_indices``/``neg_clip_indices``: (2,) int64, see
      :func:`sample_saliency_pairs`; with ``gt_saliency`` only. The relevant
      clips are the annotated ``saliency_clip_ids``, else those with a
      positive score.

    Args:
        binary_saliency: derive saliency from windows when the sample has no
            scores nor label.
        max_windows: keep a random subset of at most this many windows (the
            released model trains on at most 10); None keeps all.
    """

    def __init__(self, binary_saliency: bool = True, max_windows: Optional[int] = None):
        self.binary_saliency = binary_saliency
        self.max_windows = max_windows

    def transform(self, results: dict) -> dict:
        num_clips, clip_len = results['num_clips'], results['clip_len']
        timeline = num_clips * clip_len
        results['timeline'] = timeline

        windows = results.get('windows')
        if windows is None:
            windows = np.zeros((0, 2))
        windows = windows.clip(0.0, timeline)
        inside = windows[:, 1] > windows[:, 0]
        windows = windows[inside]
        # saliency from every window; the span targets may be a subset
        saliency = self._saliency(results, windows, num_clips, clip_len)
        if self.max_windows is not None and len(windows) > self.max_windows:
            windows = windows[np.sort(np.random.permutation(len(windows))[:self.max_windows])]
        results['gt_spans'] = (windows / timeline).astype(np.float32)

        if saliency is not None:
            results['gt_saliency'] = saliency
            relevant = results.get('saliency_clip_ids')
            if relevant is None:
                relevant = np.flatnonzero(saliency.sum(axis=1) > 0)
            (results['pos_clip_indices'],
             results['neg_clip_indices']) = sample_saliency_pairs(
                 saliency, np.sort(np.asarray(relevant, dtype=np.int64)), num_clips)
        return results

    def _saliency(self, results: dict, windows: np.ndarray, num_clips: int,
                  clip_len: float) -> Optional[np.ndarray]:
        clip_ids = results.get('saliency_clip_ids')
        if clip_ids is not None:
            scores = results['saliency_scores']
            saliency = np.zeros((num_clips, scores.shape[1]), np.float32)
            kept = clip_ids < num_clips
            saliency[clip_ids[kept]] = scores[kept]
            return saliency
        label = results.get('label')
        if label is not None:
            # Label rows evenly cover the video; each clip takes the row at
            # its centre (row i = clip i when clip_len = duration / R).
            row_len = results['duration'] / len(label)
            centres = (np.arange(num_clips) + 0.5) * clip_len
            rows = np.floor(centres / row_len).astype(np.int64)
            labelled = rows < len(label)
            saliency = np.zeros((num_clips, label.shape[1]), np.float32)
            saliency[labelled] = label[rows[labelled]]
            return saliency
        if self.binary_saliency and results.get('windows') is not None:
            return binary_saliency_from_windows(windows, num_clips, clip_len)
        return None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(binary_saliency={self.binary_saliency}, '
                f'max_windows={self.max_windows})')


@TRANSFORMS.register_module()
class PackMomentInputs(BaseTransform):
    """Pack ``results`` into ``dict(inputs=..., data_samples=...)``.

    ``inputs`` holds the tensors among ``video`` (L, Dv) and ``text`` (N, Dt)
    that are present (none in annotation-only mode).  ``data_samples`` is a :class:`MomentDataSample` with the
    ``meta_keys`` present as metainfo, ``gt_instances`` (``spans`` (K, 2),
    ``labels`` (K,) zeros) and, when available, ``gt_saliency`` (L, A),
    ``pos_clip_indices`` (P,) and ``neg_clip_indices`` (P,).

    Args:
        meta_keys: results keys copied into the metainfo when present.
    """

    INPUT_KEYS = ('video', 'text')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = {
            key: _to_tensor(results[key])
            for key in self.INPUT_KEYS if key in results
        }
        data_sample = MomentDataSample(metainfo={
            key: results[key]
            for key in self.meta_keys if key in results
        })
        spans = _to_tensor(results.get('gt_spans', np.zeros((0, 2),
                                                            np.float32)))
        data_sample.gt_instances = InstanceData(
            spans=spans, labels=torch.zeros(len(spans), dtype=torch.long))
        if 'gt_saliency' in results:
            data_sample.gt_saliency = _to_tensor(results['gt_saliency'])
            data_sample.pos_clip_indices = _to_tensor(
                results['pos_clip_indices'])
            data_sample.neg_clip_indices = _to_tensor(
                results['neg_clip_indices'])
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    # Cached feature arrays are read-only: copy those (cheap, one sample)
    # rather than share memory the model could write to.
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array))
