"""A small Python API: moments and highlights for one (video, query) pair."""
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from sgdetr.datasets.features import l2_normalize
from sgdetr.registry import MODELS
from sgdetr.structures import MomentDataSample

ArrayLike = Union[np.ndarray, torch.Tensor]


class MomentPredictor:
    """Run a trained model on pre-extracted features.

    Example::

        predictor = MomentPredictor('configs/sgdetr_qvh.py', 'best.pth')
        result = predictor.predict(video_feats, query_feats)   # (L, Dv), (N, Dt)
        result['pred_relevant_windows'][0]   # [start_s, end_s, score]
        result['pred_saliency_scores']       # one score per clip

    The features are prepared as the config's test dataset prepares them
    (L2 normalisation per source, truncation to ``max_v_len`` / ``max_q_len``).

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
            load_checkpoint(self.model, checkpoint, map_location='cpu')
        self.model.to(device).eval()
        dataset = cfg.test_dataloader.dataset
        self.clip_len = dataset.get('clip_len', 2.0)
        self.max_v_len = dataset.get('max_v_len')
        self.max_q_len = dataset.get('max_q_len')
        self.video_l2_norm = dataset.get('video_l2_norm', True)
        self.text_l2_norm = dataset.get('text_l2_norm', True)

    def _video(self, video: Union[ArrayLike, Sequence[ArrayLike]]) -> torch.Tensor:
        sources = [np.asarray(v, dtype=np.float32) for v in
                   (video if isinstance(video, (list, tuple)) else [video])]
        norms = self.video_l2_norm
        norms = list(norms) if isinstance(norms, (list, tuple)) else [norms] * len(sources)
        length = min(len(s) for s in sources)
        if self.max_v_len:
            length = min(length, self.max_v_len)
        return torch.from_numpy(np.concatenate(
            [l2_normalize(s[:length]) if n else s[:length] for s, n in zip(sources, norms)],
            axis=-1))

    def _text(self, text: ArrayLike) -> torch.Tensor:
        text = np.asarray(text, dtype=np.float32)[:self.max_q_len or None]
        return torch.from_numpy(l2_normalize(text) if self.text_l2_norm else text)

    @torch.no_grad()
    def predict(self, video: Union[ArrayLike, Sequence[ArrayLike]], text: ArrayLike,
                duration: Optional[float] = None, query: str = '') -> dict:
        """Predict for one pair.

        Args:
            video: (L, Dv) clip features, or a list of (L_i, D_i) sources that
                are concatenated along D.
            text: (N, Dt) query token features.
            duration: video length in seconds (default ``L * clip_len``).
            query: the query text, kept in the result.
        Returns:
            dict in the benchmark's submission format: ``query``,
            ``pred_relevant_windows`` ([[start, end, score], ...] seconds,
            best first) and ``pred_saliency_scores`` (one per clip).
        """
        video_t, text_t = self._video(video), self._text(text)
        num_clips = len(video_t)
        # Highlight-only configs derive the clip length from the duration.
        clip_len = self.clip_len or (duration / num_clips if duration else 2.0)
        timeline = num_clips * clip_len
        sample = MomentDataSample(metainfo=dict(
            qid=0, vid='', query=query, duration=float(duration or timeline),
            clip_len=clip_len, num_clips=num_clips, timeline=timeline))
        data = dict(inputs=dict(video=[video_t], text=[text_t]), data_samples=[sample])
        out = self.model.test_step(data)[0]
        windows = torch.cat([out.pred_instances.spans,
                             out.pred_instances.scores[:, None]], dim=1)
        return dict(query=query,
                    pred_relevant_windows=windows.cpu().tolist(),
                    pred_saliency_scores=out.pred_saliency.cpu().tolist())
