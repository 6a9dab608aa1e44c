"""Pipeline transforms: annotation record + features -> training targets ->
packed ``dict(inputs, data_samples)``.

The dataset reads features and annotations (it owns the file checks and the
cache) and hands every sample to its pipeline as a ``results`` dict::

    video (L, Dv) float32, text (N, Dt) float32, neg_text (N', Dt) (optional),
    qid, vid, query, duration, clip_len, num_clips (= L), domain (optional),
    windows (K, 2) seconds | None,
    saliency_clip_ids (M,) + saliency_scores (M, A) | None, label (R, A) | None

The default pipeline is ``[BuildMomentTargets(), PackMomentInputs()]``.
"""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from ..registry import TRANSFORMS
from ..structures import MomentDataSample

DEFAULT_META_KEYS = ('qid', 'vid', 'query', 'duration', 'clip_len',
                     'num_clips', 'timeline', 'domain', 'neg_qid',
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


def sample_rank_clips(saliency: np.ndarray, num_pairs: int,
                      rng=np.random) -> tuple:
    """Clip pairs for margin-ranking losses.

    The aggregate score of a clip is its mean over annotators.  Positives are
    the ``num_pairs`` clips with the highest aggregate score (ties broken at
    random; repeated when fewer clips score above the video's minimum).
    Negatives are drawn at random among the clips with the video's lowest
    score (for MR sets: clips outside every window).  So ``pos[i]`` always
    scores strictly higher than ``neg[i]``.  A video whose clips all score
    the same has nothing to rank: both are filled with -1.

    Args:
        saliency: (L, A) per-clip scores.
        rng: numpy random state/generator; the module-level one by default,
            which MMEngine seeds per dataloader worker.
    Returns:
        pos_clip_indices (P,) int64, neg_clip_indices (P,) int64.
    """
    aggregate = saliency.mean(axis=1)
    lowest = aggregate.min()
    above = np.flatnonzero(aggregate > lowest)
    if above.size == 0:
        none = np.full(num_pairs, -1, dtype=np.int64)
        return none, none.copy()
    # Sort by score, descending, with a random key to break ties.
    order = np.lexsort((rng.random(above.size), -aggregate[above]))
    positives = above[order[:num_pairs]]
    if positives.size < num_pairs:
        positives = np.concatenate(
            [positives, rng.choice(positives, num_pairs - positives.size)])
    candidates = np.flatnonzero(aggregate == lowest)
    negatives = rng.choice(candidates, num_pairs,
                           replace=candidates.size < num_pairs)
    return positives.astype(np.int64), negatives.astype(np.int64)


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
    - ``pos_clip_indices``/``neg_clip_indices``: (P,) int64, P =
      ``num_rank_pairs``, see :func:`sample_rank_clips`; with
      ``gt_saliency`` only.

    Args:
        num_rank_pairs: P.
        binary_saliency: derive saliency from windows when the sample has no
            scores nor label.
    """

    def __init__(self, num_rank_pairs: int = 2, binary_saliency: bool = True):
        self.num_rank_pairs = num_rank_pairs
        self.binary_saliency = binary_saliency

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
        results['gt_spans'] = (windows / timeline).astype(np.float32)

        saliency = self._saliency(results, windows, num_clips, clip_len)
        if saliency is not None:
            results['gt_saliency'] = saliency
            (results['pos_clip_indices'],
             results['neg_clip_indices']) = sample_rank_clips(
                 saliency, self.num_rank_pairs)
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
        return (f'{type(self).__name__}(num_rank_pairs={self.num_rank_pairs},'
                f' binary_saliency={self.binary_saliency})')


@TRANSFORMS.register_module()
class PackMomentInputs(BaseTransform):
    """Pack ``results`` into ``dict(inputs=..., data_samples=...)``.

    ``inputs`` holds the tensors among ``video`` (L, Dv), ``text`` (N, Dt)
    and ``neg_text`` (N', Dt) that are present (none in annotation-only
    mode).  ``data_samples`` is a :class:`MomentDataSample` with the
    ``meta_keys`` present as metainfo, ``gt_instances`` (``spans`` (K, 2),
    ``labels`` (K,) zeros) and, when available, ``gt_saliency`` (L, A),
    ``pos_clip_indices`` (P,) and ``neg_clip_indices`` (P,).

    Args:
        meta_keys: results keys copied into the metainfo when present.
    """

    INPUT_KEYS = ('video', 'text', 'neg_text')

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
