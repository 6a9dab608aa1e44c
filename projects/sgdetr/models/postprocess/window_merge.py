"""Windows of a long video back onto the video's timeline.

:class:`sgdetr.datasets.SlidingWindows` cuts a video longer than the trained
length into overlapping windows; the model predicts each one as a video of
its own. Here the predictions of one query's windows become one prediction
of the whole video:

- **saliency**: one score per clip of the video, the mean of the logits of
  every window that holds the clip;
- **moments**: every window's windows moved by its start, rescored, then
  greedy non-maximum suppression across windows at ``nms_thr`` and the best
  ``max_windows`` by score, clipped to the video. A moment that crosses a
  window's edge inside the video is cut there, so a span that touches such an
  edge has its score scaled by ``edge_factor``: the window that holds the
  moment whole wins. ``rescore='saliency'`` also scales every score by the
  video-level saliency inside the span.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.ops import nms
from mmengine.structures import InstanceData
from torch import Tensor

from sgdetr.structures import lift_spans

RESCORE_RULES = (None, 'saliency')


def merge_saliency(saliency: Sequence[Tensor], starts: Tensor, num_clips: int) -> Tensor:
    """Mean over windows of each clip's saliency logit.

    Args:
        saliency: W tensors (n_w,), window w's scores of clips
            ``starts[w] .. starts[w] + n_w - 1``.
        starts: (W,) long, first clip of each window.
        num_clips: L of the video.
    Returns:
        (L,) float32; clips no window holds get 0.
    """
    values = torch.cat([s.float() for s in saliency])
    index = torch.cat([start + torch.arange(len(s)) for start, s in zip(starts.tolist(), saliency)])
    keep = index < num_clips
    total = torch.zeros(num_clips).index_add_(0, index[keep], values[keep])
    count = torch.zeros(num_clips).index_add_(0, index[keep], torch.ones(int(keep.sum())))
    return total / count.clamp(min=1)


def clip_saliency_mean(spans: Tensor, saliency: Tensor, clip_len: float) -> Tensor:
    """Mean saliency logit of the clips each span covers (at least one clip).

    Args:
        spans: (M, 2) seconds.  saliency: (L,) per-clip logits.
    Returns:
        (M,).
    """
    cumulative = torch.cat([saliency.new_zeros(1), saliency.cumsum(0)])
    length = len(saliency)
    first = (spans[:, 0] / clip_len).floor().long().clamp(0, length - 1)
    last = (spans[:, 1] / clip_len).ceil().long().clamp(1, length)
    last = torch.maximum(last, first + 1)
    return (cumulative[last] - cumulative[first]) / (last - first).float()


def merge_moments(instances: Sequence[InstanceData], starts: Tensor, clip_len: float,
                  duration: float, max_windows: int, nms_thr: float,
                  rescore: Optional[str] = None, saliency: Optional[Tensor] = None,
                  window_clips: Optional[int] = None, num_clips: Optional[int] = None,
                  edge_factor: float = 1.0) -> Tuple[Tensor, Tensor]:
    """One query's windows from every window of its video.

    Args:
        instances: W predictions with ``spans`` (M_w, 2) seconds from the
            window's start and ``scores`` (M_w,).
        starts: (W,) first clip of each window.
        duration: of the video, seconds.
        window_clips, num_clips: clips of a window and of the video; with
            ``edge_factor`` < 1, the score of a span within one clip of an
            edge of its window that is not an edge of the video is scaled by
            ``edge_factor``.
        rescore: None keeps each window's scores; ``'saliency'`` multiplies
            them by the sigmoid of the video-level saliency averaged over the
            window's clips (needs ``saliency`` (L,)), so a window the
            query does not match cannot outrank one it does.
    Returns:
        spans (k, 2) seconds and scores (k,), by decreasing score, k <= max_windows.
    """
    if rescore not in RESCORE_RULES:
        raise ValueError(f'unknown rescore rule {rescore!r}: choose from {RESCORE_RULES}')
    offsets = starts.float() * clip_len
    spans = torch.cat([inst.spans.float() + offset for inst, offset in zip(instances, offsets)])
    scores = torch.cat([inst.scores.float() for inst in instances])
    if edge_factor != 1.0:
        counts = torch.tensor([len(inst.spans) for inst in instances])
        first = offsets.repeat_interleave(counts)
        last = first + window_clips * clip_len
        cut = (((spans[:, 0] <= first + clip_len) & (first > 0)) |
               ((spans[:, 1] >= last - clip_len) & (last < num_clips * clip_len)))
        scores = torch.where(cut, scores * edge_factor, scores)
    spans = spans.clamp(min=0, max=duration)
    non_empty = spans[:, 1] > spans[:, 0]
    spans, scores = spans[non_empty], scores[non_empty]
    if rescore == 'saliency' and len(spans):
        scores = scores * clip_saliency_mean(spans, saliency, clip_len).sigmoid()
    if len(spans) == 0:
        return spans, scores
    _, kept = nms(lift_spans(spans), scores.contiguous(), nms_thr)
    kept = kept[:max_windows]
    return spans[kept], scores[kept]


def merge_window_samples(data_samples: List, merge: dict, whole_video: bool = True) -> List:
    """Replace the window samples of each long video by one sample of the video.

    Windows of a video are consecutive in ``data_samples`` and carry the
    metainfo of :class:`sgdetr.datasets.SlidingWindows`; other samples pass
    through unchanged.

    Args:
        data_samples: predicted samples (``pred_instances[_<head>]`` with spans
            in seconds of their window, ``pred_saliency`` per real clip).
        merge: :func:`merge_moments` settings (``nms_thr``, ``rescore``,
            ``max_windows``).
        whole_video: False: each video's first window alone stands for it
            (the released truncation to the trained length); ``data_samples``
            then holds first windows only.
    Returns:
        one sample per query.
    """
    merged, index = [], 0
    while index < len(data_samples):
        sample = data_samples[index]
        count = int(sample.metainfo.get('num_windows', 1))
        if count == 1:
            merged.append(sample)
            index += 1
            continue
        windows = data_samples[index:index + (count if whole_video else 1)]
        indices = [int(w.metainfo.get('window_index', -1)) for w in windows]
        if indices != list(range(count if whole_video else 1)):
            raise RuntimeError('the windows of one video must be consecutive in a batch: '
                               'collate with moment_collate')
        merged.append(windows[0] if not whole_video else _merge(windows, merge))
        merged[-1].set_metainfo(dict(duration=sample.metainfo['video_duration'],
                                     num_windows=1, merged_windows=count))
        index += len(windows)
    return merged


def _merge(windows: List, cfg: dict):
    first = windows[0]
    meta = first.metainfo
    clip_len, num_clips = float(meta['clip_len']), int(meta['video_num_clips'])
    duration = float(meta['video_duration'])
    starts = torch.tensor([int(w.metainfo['window_start']) for w in windows])
    out = first.clone()
    out.set_metainfo(dict(num_clips=num_clips, num_real_clips=num_clips,
                          timeline=num_clips * clip_len, window_start=0))
    saliency = None
    if 'pred_saliency' in first:
        saliency = merge_saliency([w.pred_saliency for w in windows], starts, num_clips)
        out.pred_saliency = saliency
    window_clips = int(meta.get('num_real_clips', meta['num_clips']))
    for field in [k for k in first.keys() if k.startswith('pred_instances')]:
        spans, scores = merge_moments([w.get(field) for w in windows], starts, clip_len,
                                      duration, saliency=saliency, window_clips=window_clips,
                                      num_clips=num_clips, **cfg)
        out.set_field(InstanceData(spans=spans, scores=scores), field)
    return out
