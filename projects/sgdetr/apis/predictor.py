"""A small Python API: moments and highlights for one video and its queries."""
import math
import warnings
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from sgdetr.datasets.features import clip_count_disagrees, combine_video_sources, l2_normalize
from sgdetr.datasets.sliding_windows import moment_collate
from sgdetr.engine.checkpoint import load_model_weights, read_checkpoint
from sgdetr.registry import MODELS, TRANSFORMS

ArrayLike = Union[np.ndarray, torch.Tensor]


def check_duration(duration: float, num_clips: int, clip_len: Optional[float]) -> None:
    """Refuse a duration the features cannot have: windows are computed on the
    clips' timeline and written in seconds of ``duration``."""
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f'the duration must be a positive number of seconds, got {duration:g}')
    if clip_len and clip_count_disagrees(num_clips, duration / clip_len):
        raise ValueError(f'duration {duration:g} s disagrees with the video features: '
                         f'{num_clips} clips of {clip_len:g} s are {num_clips * clip_len:g} s '
                         '(wrong duration, or features of another clip length?)')


class MomentPredictor:
    """Run a trained model on pre-extracted features.

    Example::

        predictor = MomentPredictor('configs/sgdetr_qvh.py', 'sgdetr_qvh.pth')
        result = predictor.predict(video_feats, query_feats, duration=150)  # (L, Dv), (N, Dt)
        result['pred_relevant_windows'][0]   # [start_s, end_s, score]
        result['pred_saliency_scores']       # one score per clip

    The features go through the config's own test pipeline (sliding
    windows over a video longer than the trained length, temporal endpoints,
    padding, ...), after the L2 normalisation the dataset applies when it
    reads them; ``cfg.model.predict_with`` chooses the head whose windows are
    returned. Videos of any length give windows on the whole video's
    timeline and one saliency score per clip. The checkpoint must fit the
    model exactly.

    Args:
        config: config path or :class:`Config`.
        checkpoint: weights; ``None`` for parameter-free models.
        device: torch device.
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 device: str = 'cpu'):
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        init_default_scope(cfg.get('default_scope', 'sgdetr'))
        self.model = MODELS.build(cfg.model)
        if checkpoint is not None:
            load_model_weights(self.model, read_checkpoint(checkpoint), strict=True,
                               source=str(checkpoint))
        self.model.to(device).eval()
        dataset = cfg.test_dataloader.dataset
        self.clip_len = dataset.get('clip_len', 2.0)
        norms = dataset.get('video_l2_norm', True)
        self.video_l2_norm = norms
        self.text_l2_norm = dataset.get('text_l2_norm', True)
        pipeline = dataset.get('pipeline') or [dict(type='BuildMomentTargets'),
                                               dict(type='PackMomentInputs')]
        self.pipeline = Compose([TRANSFORMS.build(t) for t in pipeline])
        self.max_tokens = next((t.get('max_tokens') for t in pipeline
                                if t.get('type') == 'TruncateFeatures'), None)

    def _video(self, video: Union[ArrayLike, Sequence[ArrayLike]]) -> np.ndarray:
        sources = [np.asarray(v, dtype=np.float32) for v in
                   (video if isinstance(video, (list, tuple)) else [video])]
        norms = self.video_l2_norm
        norms = list(norms) if isinstance(norms, (list, tuple)) else [norms] * len(sources)
        return combine_video_sources(sources, norms)

    def _text(self, text: ArrayLike) -> np.ndarray:
        text = np.asarray(text, dtype=np.float32)
        if text.ndim == 3 and len(text) == 1:
            text = text[0]
        return l2_normalize(text) if self.text_l2_norm else text

    def prepare(self, video: Union[ArrayLike, Sequence[ArrayLike]], text: ArrayLike,
                duration: Optional[float] = None, query: str = '', qid=0, vid: str = '') -> dict:
        """One sample as the dataset would hand it to the model (after the pipeline)."""
        video_array, text_array = self._video(video), self._text(text)
        num_clips = len(video_array)
        if duration is not None:
            check_duration(float(duration), num_clips, self.clip_len)
        if self.max_tokens is not None and len(text_array) > self.max_tokens:
            warnings.warn(f'query {qid!r} ({query[:40]!r}) has {len(text_array)} tokens: the model '
                          f'reads its first {self.max_tokens} (the text limit of the config)')
        # Highlight-only configs derive the clip length from the duration.
        clip_len = self.clip_len or (duration / num_clips if duration else 2.0)
        return self.pipeline(dict(
            video=video_array, text=text_array, qid=qid, vid=vid, query=query,
            duration=float(duration if duration is not None else num_clips * clip_len),
            clip_len=clip_len, num_clips=num_clips))

    @torch.no_grad()
    def run(self, samples: Sequence[dict], batch_size: Optional[int] = None) -> List:
        """The model's predicted data samples, one per prepared sample.

        Samples go through ``test_step`` in batches of at most ``batch_size``
        model inputs (the windows of a long video count one each; the model's
        ``test_cfg.window_batch`` by default); all windows of one sample stay
        in one batch, since the model merges them.

        Args:
            samples: outputs of :meth:`prepare`.
        """
        limit = batch_size or getattr(self.model, 'test_cfg', {}).get('window_batch', 64)
        outputs, batch, rows = [], [], 0
        for sample in samples:
            size = len(sample['data_samples']) if isinstance(sample['data_samples'], list) else 1
            if batch and rows + size > limit:
                outputs += self.model.test_step(moment_collate(batch))
                batch, rows = [], 0
            batch.append(sample)
            rows += size
        if batch:
            outputs += self.model.test_step(moment_collate(batch))
        return outputs

    @torch.no_grad()
    def predict(self, video: Union[ArrayLike, Sequence[ArrayLike]], text: ArrayLike,
                duration: Optional[float] = None, query: str = '') -> Dict:
        """Predict for one (video, query) pair.

        Args:
            video: (L, Dv) clip features, or a list of (L_i, D_i) sources that
                are concatenated along D.
            text: (N, Dt) query token features.
            duration: video length in seconds (default ``L * clip_len``).
            query: the query text, kept in the result.
        Returns:
            dict in the benchmark's submission format: ``query``,
            ``pred_relevant_windows`` ([[start, end, score], ...] seconds, in the
            order the benchmark reads them), ``pred_saliency_scores`` (one per
            clip), and ``pred_relevant_windows_<head>`` for the model's
            ``extra_outputs``.
        """
        out = self.run([self.prepare(video, text, duration, query)])[0]
        result = dict(query=query)
        for key in out.keys():
            if key.startswith('pred_instances'):
                name = key.replace('pred_instances', 'pred_relevant_windows')
                instances = out.get(key)
                result[name] = torch.cat([instances.spans, instances.scores[:, None]],
                                         dim=1).cpu().tolist()
        result['pred_saliency_scores'] = out.pred_saliency.cpu().tolist()
        return result
