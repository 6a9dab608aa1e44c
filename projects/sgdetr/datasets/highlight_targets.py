"""Saliency targets of the highlight-only benchmarks (TVSum, YouTube-Highlights).

:class:`BuildMomentTargets` copies a video's ``label`` rows into
``gt_saliency`` (L, A) and draws QVHighlights-style clip pairs from the clips
with a positive score. On TVSum every clip has a positive score (annotators
grade 1..5), and on YouTube-Highlights the "lowest relevant clip" is itself a
highlight, so the released model trains these two sets on other targets,
which :class:`HighlightSaliencyTargets` builds (after ``BuildMomentTargets``):

- ``gt_saliency`` becomes one graded column (L, 1) on the scale of the
  QVHighlights sum of 3 annotators (0..12), which the saliency losses assume:
  TVSum ``sum_a (score_a - 1) / (4 A) * 12`` (0 when every annotator gave 1,
  12 when all gave 5); YouTube-Highlights the 0/1 label itself;
- one ranking pair per video: the highest-scored clip above the lowest-scored
  one (the released model's ``max_n=1`` without easy pairs), ties broken by
  clip order (the first of the lowest, the last of the highest).

Clips past the labelled duration (the zero clips of ``PadClips``) keep 0 and
take part in neither pair.
"""
import numpy as np
from mmcv.transforms import BaseTransform

from ..registry import TRANSFORMS

#: TVSum annotators score each segment 1 (not important) .. 5 (very important)
TVSUM_SCORE_RANGE = (1.0, 5.0)
#: the top of the QVHighlights scale (3 annotators x 0..4)
SALIENCY_LEVELS = 12


def tvsum_graded_saliency(label: np.ndarray) -> np.ndarray:
    """(R, A) scores 1..5 -> (R,) grades 0..12 (the mean of ``score - 1`` x 3)."""
    low, high = TVSUM_SCORE_RANGE
    return (label - low).sum(axis=1) / ((high - low) * label.shape[1]) * SALIENCY_LEVELS


def hardest_pair(grades: np.ndarray):
    """(pos (1,), neg (1,)) int64: the last highest and the first lowest clip."""
    order = np.argsort(grades, kind='stable')
    return (np.array([order[-1]], dtype=np.int64), np.array([order[0]], dtype=np.int64))


@TRANSFORMS.register_module()
class HighlightSaliencyTargets(BaseTransform):
    """Graded saliency and one hard clip pair, as the released model trains
    TVSum and YouTube-Highlights (see the module documentation).

    Args:
        protocol: ``'tvsum'`` (20 annotators, 1..5) or ``'youtube'`` (0/1
            columns; a clip is a highlight when any column is > 0).
    """
    PROTOCOLS = ('tvsum', 'youtube')

    def __init__(self, protocol: str):
        if protocol not in self.PROTOCOLS:
            raise ValueError(f'protocol must be one of {self.PROTOCOLS}, got {protocol!r}')
        self.protocol = protocol

    def transform(self, results: dict) -> dict:
        label = results.get('label')
        if label is None or 'gt_saliency' not in results:
            return results  # nothing to train on (a test split)
        num_clips = len(results['gt_saliency'])
        # the clips BuildMomentTargets filled from the label (same rule)
        row_len = results['duration'] / len(label)
        centres = (np.arange(num_clips) + 0.5) * results['clip_len']
        labelled = np.floor(centres / row_len).astype(np.int64) < len(label)
        scores = results['gt_saliency'][labelled]
        if self.protocol == 'tvsum':
            grades = tvsum_graded_saliency(scores)
        else:
            grades = (scores > 0).any(axis=1).astype(np.float32)
        saliency = np.zeros((num_clips, 1), np.float32)
        saliency[labelled, 0] = grades
        results['gt_saliency'] = saliency
        if labelled.any():
            pos, neg = hardest_pair(grades)
            ids = np.flatnonzero(labelled)
            results['pos_clip_indices'], results['neg_clip_indices'] = ids[pos], ids[neg]
        else:
            results['pos_clip_indices'] = np.full(1, -1, dtype=np.int64)
            results['neg_clip_indices'] = np.full(1, -1, dtype=np.int64)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(protocol={self.protocol!r})'
