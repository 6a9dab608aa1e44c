"""The parameter-free floor every trained model must beat."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor

from sgdetr.registry import MODELS
from .data_preprocessor_builder import build_data_preprocessor
from ..postprocess import merge_window_samples, select_windows
from ..postprocess import runs_above_thresholds


@MODELS.register_module()
class ZeroShotSaliency(BaseModel):
    """Zero-shot moment retrieval and highlight detection in an aligned
    video-text space (e.g. InternVideo2 features).

    Highlight scores are the cosine of the mean-pooled query tokens with each
    clip. Windows are the runs of the smoothed, min-max normalised curve above
    each of ``thresholds``; a window scores the mean normalised saliency inside
    it, so tight windows around peaks rank first.

    Args:
        smooth_kernel: width (clips) of the moving average applied before
            thresholding; 1 disables smoothing.
        thresholds: fractions of the per-video [min, max] range.
        max_windows: windows kept per query.
        merge: how the windows of a long video are merged when the pipeline
            cuts it (:class:`sgdetr.datasets.SlidingWindows`; the zero-shot
            configs read whole videos at once):
            :func:`sgdetr.models.postprocess.merge_moments` settings. Each
            window's scores are normalised within it, so they are made
            comparable by the video's saliency (``rescore='saliency'``).
    """

    def __init__(self, smooth_kernel: int = 3,
                 thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                 max_windows: int = 10,
                 merge: dict = dict(nms_thr=0.7, rescore='saliency', edge_factor=0.5),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if smooth_kernel < 1 or smooth_kernel % 2 == 0:
            raise ValueError(f'smooth_kernel must be odd and >= 1, got {smooth_kernel}')
        self.smooth_kernel = smooth_kernel
        self.register_buffer('thresholds', torch.tensor(thresholds, dtype=torch.float32),
                             persistent=False)
        self.max_windows = max_windows
        self.merge = dict(merge, max_windows=max_windows)

    def saliency(self, video: Tensor, video_mask: Tensor, text: Tensor,
                 text_mask: Tensor) -> Tensor:
        """Cosine of the mean query token with every clip.

        Args:
            video: (B, L, D), video_mask: (B, L), text: (B, N, D), text_mask: (B, N).
        Returns:
            (B, L) scores; padded clips are 0.
        """
        if video.shape[-1] != text.shape[-1]:
            raise ValueError(
                'ZeroShotSaliency needs video and text features of one aligned '
                f'space, got video dim {video.shape[-1]} and text dim {text.shape[-1]}')
        tmask = text_mask.unsqueeze(-1).to(text.dtype)
        sentence = (text * tmask).sum(1) / tmask.sum(1).clamp(min=1)
        cos = F.cosine_similarity(video, sentence.unsqueeze(1), dim=-1)
        return cos.masked_fill(~video_mask, 0)

    def smooth(self, curve: Tensor, mask: Tensor) -> Tensor:
        """Masked moving average of (B, L) curves (padding does not leak in)."""
        if self.smooth_kernel == 1:
            return curve
        k = self.smooth_kernel
        weight = curve.new_ones(1, 1, k)
        m = mask.to(curve.dtype).unsqueeze(1)
        num = F.conv1d((curve * mask).unsqueeze(1), weight, padding=k // 2)
        den = F.conv1d(m, weight, padding=k // 2)
        return (num / den.clamp(min=1)).squeeze(1) * mask

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'predict'):
        if mode == 'loss':
            raise RuntimeError('ZeroShotSaliency is parameter-free: there is nothing '
                               'to train; use tools/test.py')
        scores = self.saliency(inputs['video'], inputs['video_mask'],
                               inputs['text'], inputs['text_mask'])
        if mode == 'tensor':
            return scores
        return self.predict(scores, inputs['video_mask'], data_samples)

    def predict(self, scores: Tensor, video_mask: Tensor, data_samples: List) -> List:
        curve = self.smooth(scores, video_mask)
        low = curve.masked_fill(~video_mask, float('inf')).amin(1, keepdim=True)
        high = curve.masked_fill(~video_mask, float('-inf')).amax(1, keepdim=True)
        normalised = ((curve - low) / (high - low).clamp(min=1e-6)).masked_fill(~video_mask, 0)
        candidates = runs_above_thresholds(normalised, video_mask, self.thresholds)
        for b, sample in enumerate(data_samples):
            spans, win_scores = candidates[b]
            num_clips = int(video_mask[b].sum())
            meta = sample.metainfo
            timeline = meta.get('timeline', num_clips * meta.get('clip_len', 2.0))
            windows, window_scores = select_windows(
                spans.float() / num_clips, win_scores, max_windows=self.max_windows,
                timeline=timeline, duration=meta.get('duration', timeline))
            sample.pred_instances = InstanceData(spans=windows, scores=window_scores)
            sample.pred_saliency = scores[b, :num_clips].detach()
        return merge_window_samples(data_samples, self.merge)
