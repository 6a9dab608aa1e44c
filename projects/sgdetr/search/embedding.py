"""The model's own query-independent clip embedding and its query embedding.

The local saliency of SG-DETR (:class:`sgdetr.models.LocalSaliencyHead`) scores
clip i of a video for a query as ``cos(v_i, s) * exp(t) + a``: ``v_i`` is the
clip after the input projection (``encoder.video_proj``; the raw clip's first
``text_dim`` channels with ``saliency_space='raw'``), ``s`` the sentence token
pooled from the query's tokens (``encoder.local_saliency.pooling``). ``v_i``
does not depend on the query, so it can be computed once per video; the
cosine is a dot product of unit vectors, monotone in the model's own logit
and the same function for every video. The parameter-free
:class:`ZeroShotSaliency` is the same with raw clips and mean pooling.

The released pipeline appends each clip's position in the window it is read
in (``AppendTemporalEndpoints``), so a projected clip depends on that window:
clips are prepared by the config's own test pipeline
(:meth:`MomentPredictor.prepare`) in windows of the trained length
(``TruncateFeatures.max_clips``) tiling the video, the last one ending with
the video.
"""
import warnings
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sgdetr.datasets.features import l2_normalize
from sgdetr.datasets.sliding_windows import SlidingWindows, window_starts
from sgdetr.datasets.transforms import TruncateFeatures


class ModelEmbedding:
    """Clip and query embeddings of the model a :class:`MomentPredictor` runs.

    Args:
        predictor: the model and its test pipeline.
        video_dim, text_dim: the dataset's feature dims (``video_dim`` /
            ``text_dim`` of the config).

    Attributes:
        dim: H of the embeddings.  window_clips: the trained length (clips;
        None = any).  max_tokens: the text limit (tokens; None = any).
    """

    def __init__(self, predictor, video_dim: int, text_dim: int):
        self.predictor, self.video_dim, self.text_dim = predictor, video_dim, text_dim
        model = predictor.model
        encoder = getattr(model, 'encoder', None)
        if encoder is not None and hasattr(encoder, 'local_saliency'):
            self.encoder = encoder
            self.raw = encoder.saliency_space == 'raw'
            self.dim = encoder.text_dim if self.raw else encoder.embed_dims
        elif type(model).__name__ == 'ZeroShotSaliency':
            self.encoder, self.raw, self.dim = None, True, text_dim
        else:
            raise TypeError(f'{type(model).__name__} has no local saliency to index (an SGDETR '
                            'encoder or ZeroShotSaliency is needed)')
        transforms = predictor.pipeline.transforms
        truncate = [t for t in transforms if isinstance(t, TruncateFeatures)]
        windows = [t for t in transforms if isinstance(t, SlidingWindows)]
        self.window_clips = (windows[0].window if windows else
                             truncate[0].max_clips if truncate else None)
        self.max_tokens = predictor.max_tokens

    @torch.no_grad()
    def clips(self, features: np.ndarray) -> Tensor:
        """(L, Dv) raw clip features -> (L, H) unit clip embeddings."""
        length = len(features)
        # windows of the trained length tiling the video (no overlap but the last)
        window = self.window_clips or length
        starts = window_starts(length, window, window)
        width = length if len(starts) == 1 else self.window_clips
        blank = np.zeros((1, self.text_dim), np.float32)
        prepared = torch.stack([  # (W, width, Dv + extra): one pass of the pipeline per window
            self.predictor.prepare(features[s:s + width], blank)['inputs']['video'][:width]
            for s in starts])
        which = np.minimum(np.arange(length) // width, len(starts) - 1)
        position = np.arange(length) - starts[which]
        clips = prepared[torch.from_numpy(which), torch.from_numpy(position)]
        device = next(iter(self._parameters()), torch.empty(0)).device
        clips = clips.to(device)
        embedded = clips[:, :self.text_dim] if self.raw else self.encoder.video_proj(clips[None])[0]
        return F.normalize(embedded.float(), dim=-1).cpu()

    def segments(self, features: np.ndarray, segment_clips: int) -> np.ndarray:
        """(L, Dv) -> (ceil(L / S), H) float32: the mean unit clip embedding of
        each run of ``S = segment_clips`` clips (the last run may be shorter);
        its dot product with a unit query is the run's mean cosine."""
        clips = self.clips(features)
        length = len(clips)
        count = -(-length // segment_clips)
        padded = F.pad(clips, (0, 0, 0, count * segment_clips - length))
        sums = padded.view(count, segment_clips, -1).sum(1)
        sizes = torch.full((count, 1), float(segment_clips))
        sizes[-1] = length - (count - 1) * segment_clips
        return (sums / sizes).numpy()

    @torch.no_grad()
    def query(self, tokens: np.ndarray, source: str = 'the query') -> Tensor:
        """(N, Dt) token features -> (H,) unit sentence token.

        A query longer than the text limit is truncated to its first
        ``max_tokens`` tokens, as the model reads it, with a warning.
        """
        tokens = np.asarray(tokens, dtype=np.float32)
        if tokens.ndim == 3 and len(tokens) == 1:
            tokens = tokens[0]
        if tokens.ndim != 2 or len(tokens) == 0:
            raise ValueError(f'{source}: token features must be (N, Dt) with N >= 1, got '
                             f'{tokens.shape}')
        if tokens.shape[1] != self.text_dim:
            raise ValueError(f'{source}: token features of dim {tokens.shape[1]}, the model '
                             f'reads {self.text_dim} (text_dim)')
        if self.max_tokens is not None and len(tokens) > self.max_tokens:
            warnings.warn(f'{source}: {len(tokens)} tokens, the model reads the first '
                          f'{self.max_tokens} (max_tokens of the config); the rest is ignored',
                          stacklevel=3)
            tokens = tokens[:self.max_tokens]
        if self.predictor.text_l2_norm:
            tokens = l2_normalize(tokens)
        text = torch.from_numpy(tokens)[None]
        if self.encoder is None:
            sentence = text.mean(1)[0]
        else:
            device = next(iter(self._parameters())).device
            text = text.to(device)
            words = text if self.raw else self.encoder.text_proj(text)
            mask = torch.ones(text.shape[:2], dtype=torch.bool, device=device)
            sentence = self.encoder.local_saliency.pooling(words, mask)[0]
        return F.normalize(sentence.float(), dim=0).cpu()

    def _parameters(self):
        return self.predictor.model.parameters()
