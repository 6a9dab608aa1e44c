"""Batched inference: one video, many queries, one forward.

Inputs may be features, feature files, or a video file / query texts with
the encoders that made the model's features::

    from sgdetr.apis import MomentInferencer

    inferencer = MomentInferencer('configs/sgdetr_qvh.py', 'sgdetr_qvh.pth',
                                  video_encoder=dict(type='InternVideo2VideoEncoder',
                                                     path='video_encoder.pt'),
                                  text_encoder=dict(type='InternVideo2TextEncoder',
                                                    path='text_encoder.pt'))
    out = inferencer('video.mp4', ['a man opens the door', 'a dog runs'])
    out['predictions'][0]['pred_relevant_windows'][:3]   # [[start_s, end_s, score], ...]

Every sample goes through the config's own test pipeline
(:meth:`MomentPredictor.prepare`) and then, batched, through the model's data
preprocessor and ``test_step``: the same path as ``tools/test.py``, so a query
gets the windows it would get alone (the models compute each sample as in a
batch of its own).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from sgdetr import extractors
from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.features import (dataset_paths, layout_names, read_npz_array, read_pt_array,
                                      text_feature_path, video_feature_path)
from sgdetr.evaluation.submission import prediction_to_submission
from sgdetr.extractors import extract_video, is_feature_file, load_feature_file
from .predictor import MomentPredictor, check_duration
from .visualization import plot_prediction

ArrayLike = Union[np.ndarray, torch.Tensor]


def _as_array(features) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    return np.asarray(features, dtype=np.float32)


class MomentInferencer:
    """Moments and highlight curves for many queries of one video at a time.

    Args:
        config: config path or :class:`Config`.
        checkpoint: weights (``None`` for parameter-free models).
        device: device of the model.
        video_encoder: a :class:`sgdetr.extractors.VideoEncoder` or its config
            dict, to run on video files.
        text_encoder: a :class:`sgdetr.extractors.TextEncoder` or its config
            dict, to run on query texts.
        batch_size: model inputs per forward (a query of a video longer than
            the trained length counts once per window).
        clip_batch_size: clips per forward of the video encoder.
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 device: str = 'cpu', video_encoder=None, text_encoder=None,
                 batch_size: int = 64, clip_batch_size: int = 16):
        self.cfg = Config.fromfile(config) if isinstance(config, str) else config
        self.predictor = MomentPredictor(self.cfg, checkpoint, device)
        self.model = self.predictor.model
        self.clip_len = float(self.predictor.clip_len or 2.0)
        dataset = self.cfg.test_dataloader.dataset
        self.video_dim, self.text_dim = dataset.get('video_dim'), dataset.get('text_dim')
        self.video_encoder = self._encoder(video_encoder, 'VideoEncoder')
        self.text_encoder = self._encoder(text_encoder, 'TextEncoder')
        self.batch_size, self.clip_batch_size = batch_size, clip_batch_size

    @staticmethod
    def _encoder(cfg, kind: str):
        if cfg is None:
            return None
        return extractors.build_encoder(cfg, getattr(extractors, kind))

    # -- inputs ----------------------------------------------------------------
    def load_video(self, video, duration: Optional[float] = None, progress: bool = False):
        """Features of ``video``: (L, D) features (or a list of sources), a feature
        file (``.pt`` / ``.npz`` / ``.npy``) or a video file (with ``video_encoder``).

        Returns:
            (features (L, D) or a list of sources, duration in seconds).
        """
        from_file = isinstance(video, str)
        if from_file:
            if is_feature_file(video):
                features = load_feature_file(video)
            elif not osp.isfile(video):
                raise FileNotFoundError(f'{video}: no such video or feature file')
            else:
                if self.video_encoder is None:
                    raise ValueError(f'{video}: a video file needs a video_encoder (the one the '
                                     "model's features came from); or give its features")
                features, decoded = extract_video(video, self.video_encoder, self.clip_len,
                                                  self.clip_batch_size, progress=progress)
                duration = decoded if duration is None else duration
        elif isinstance(video, (list, tuple)):
            features = [_as_array(v) for v in video]
        else:
            features = _as_array(video)
        sources = features if isinstance(features, list) else [features]
        dim = sum(s.shape[-1] for s in sources)
        if self.video_dim is not None and dim != self.video_dim:
            raise ValueError(f'the video features have dim {dim} but the config reads '
                             f'{self.video_dim} (video_dim): use the encoder the model was '
                             'trained with')
        if duration is None:
            duration = min(len(s) for s in sources) * self.clip_len
        check_duration(float(duration), min(len(s) for s in sources), self.predictor.clip_len)
        return features, float(duration)

    def load_queries(self, queries: Sequence, qids: Optional[Sequence] = None):
        """Texts, (N, Dt) features and qids of ``queries``: each a text (with
        ``text_encoder``), (N, Dt) features, a feature file, or a dict with
        ``query`` and optionally ``qid`` and ``features`` (array or file)."""
        texts, features, to_encode = [], [], []
        given_qids = []
        for index, query in enumerate(queries):
            item = dict(query) if isinstance(query, dict) else {}
            if not isinstance(query, dict):
                if isinstance(query, str) and not is_feature_file(query):
                    item['query'] = query
                elif isinstance(query, str):
                    item['query'], item['features'] = osp.splitext(osp.basename(query))[0], query
                else:
                    item['features'] = query
            value = item.get('features')
            if isinstance(value, str):
                value = load_feature_file(value)
            texts.append(str(item.get('query', '')))
            features.append(None if value is None else _as_array(value))
            given_qids.append(item.get('qid'))
            if value is None:
                to_encode.append(index)
        if to_encode:
            if self.text_encoder is None:
                raise ValueError('query texts need a text_encoder (the one the model\'s features '
                                 'came from); or give the queries\' features')
            encoded = self.text_encoder.encode([texts[i] for i in to_encode])
            for index, tokens in zip(to_encode, encoded):
                features[index] = _as_array(tokens)
        for tokens in features:
            if self.text_dim is not None and tokens.shape[-1] != self.text_dim:
                raise ValueError(f'the text features have dim {tokens.shape[-1]} but the config '
                                 f'reads {self.text_dim} (text_dim): use the encoder the model '
                                 'was trained with')
        if qids is None:
            qids = [q if q is not None else i for i, q in enumerate(given_qids)]
        elif len(qids) != len(features):
            raise ValueError(f'{len(qids)} qids for {len(features)} queries')
        return texts, features, list(qids)

    # -- inference -------------------------------------------------------------
    @torch.no_grad()
    def predict_features(self, video, query_features: Sequence[ArrayLike], duration: float,
                         texts: Optional[Sequence[str]] = None, qids: Optional[Sequence] = None,
                         vid: str = '') -> List[Dict]:
        """Submission entries for one video's features and many queries' features."""
        texts = list(texts) if texts is not None else [''] * len(query_features)
        qids = list(qids) if qids is not None else list(range(len(query_features)))
        samples = [self.predictor.prepare(video, tokens, duration, text, qid, vid)
                   for tokens, text, qid in zip(query_features, texts, qids)]
        return [self._entry(out) for out in self.predictor.run(samples, self.batch_size)]

    @staticmethod
    def _entry(sample) -> Dict:
        entry = prediction_to_submission(sample, max_windows=None)
        for key in sample.keys():
            if key.startswith('pred_instances_'):
                windows = prediction_to_submission(sample, None, key).get('pred_relevant_windows')
                entry[key.replace('pred_instances', 'pred_relevant_windows')] = windows
        if 'pred_saliency_scores' in entry:  # keep the official key order
            entry['pred_saliency_scores'] = entry.pop('pred_saliency_scores')
        return entry

    def __call__(self, video, queries: Sequence, duration: Optional[float] = None,
                 vid: Optional[str] = None, qids: Optional[Sequence] = None,
                 return_figures: bool = False, top_k: int = 5,
                 progress: bool = False) -> Dict[str, list]:
        """Predict every query of one video in one batched forward.

        Args:
            video: features (L, D) / list of sources, a feature file, or a
                video file (with ``video_encoder``).
            queries: texts (with ``text_encoder``), features (N, Dt), feature
                files, or dicts (``query``, ``qid``, ``features``).
            duration: seconds (default: the decoded video's, else ``L * clip_len``).
            vid: the video id in the entries (default: the file name).
            qids: one per query (default: the dicts' or 0, 1, ...).
            return_figures: also return one figure per query
                (:func:`sgdetr.apis.visualization.plot_prediction`).
            top_k: windows drawn in the figures.

        Returns:
            ``dict(predictions=[entry, ...])`` in the submission format
            (``qid, query, vid, pred_relevant_windows, pred_saliency_scores``
            and ``pred_relevant_windows_<head>`` for the model's extra
            outputs), plus ``figures`` when asked.
        """
        if isinstance(queries, (str, dict)) or (hasattr(queries, 'ndim') and queries.ndim == 2):
            queries = [queries]
        features, duration = self.load_video(video, duration, progress)
        if vid is None:
            vid = osp.splitext(osp.basename(video))[0] if isinstance(video, str) else ''
        texts, query_features, qids = self.load_queries(queries, qids)
        entries = self.predict_features(features, query_features, duration, texts, qids, vid)
        result = dict(predictions=entries)
        if return_figures:
            result['figures'] = [plot_prediction(e, clip_len=self.clip_len, top_k=top_k,
                                                 duration=duration) for e in entries]
        return result


class DatasetSplit:
    """A config's split as the inferencer reads it: annotations and raw features.

    Args:
        cfg: the config.
        split: ``'val'``, ``'test'`` or ``'train'`` (its dataloader's dataset).
        ann_file: another annotation file of the same features.
    """

    def __init__(self, cfg: Union[str, Config], split: str = 'val',
                 ann_file: Optional[str] = None):
        cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            raise ValueError(f'the config has no {split}_dataloader')
        dataset = loader.dataset
        paths = dataset_paths(dataset)
        self.ann_file = ann_file or paths.ann_file
        self.records = [record for _, record in read_jsonl(self.ann_file)]
        if paths.video_dirs is None or paths.text_dir is None:
            raise ValueError(f'the {split} dataset names no feature directories')
        self.video_dirs, self.text_dir, self.layout = paths.video_dirs, paths.text_dir, paths.layout
        self.dataset_cfg = dataset
        _, self._video_key, _, self._text_key = layout_names(self.layout)
        self.by_vid: Dict[str, List[dict]] = {}
        for record in self.records:
            self.by_vid.setdefault(record['vid'], []).append(record)

    @property
    def vids(self) -> List[str]:
        return list(self.by_vid)

    def queries(self, vid: str) -> List[dict]:
        return self.by_vid[vid]

    def video(self, vid: str) -> List[np.ndarray]:
        """The raw (L_i, D_i) features of every source of ``vid``."""
        paths = [video_feature_path(d, vid, self.layout) for d in self.video_dirs]
        return [read_pt_array(p) if self._video_key is None else read_npz_array(p, self._video_key)
                for p in paths]

    def text(self, qid) -> np.ndarray:
        return read_npz_array(text_feature_path(self.text_dir, qid, self.layout),
                              self._text_key)

    def predict(self, inferencer: MomentInferencer, vid: str) -> List[Dict]:
        """Every annotated query of ``vid``, in one batched forward."""
        records, sources = self.queries(vid), self.video(vid)
        duration = records[0].get('duration')
        duration = float(duration) if duration else min(map(len, sources)) * inferencer.clip_len
        return inferencer.predict_features(
            sources, [self.text(r['qid']) for r in records], duration,
            [r.get('query', '') for r in records], [r['qid'] for r in records], vid)
