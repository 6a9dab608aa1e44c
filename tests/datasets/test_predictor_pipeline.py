"""MomentPredictor prepares raw features with the config's own test pipeline:
exactly what the dataset hands the model for the same features."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from sgdetr.apis import MomentPredictor
from sgdetr.datasets.synthetic import make_synthetic_dataset
from sgdetr.registry import DATASETS

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'sgdetr_demo.py'
DIM = 16
MAX_CLIPS, MAX_TOKENS = 75, 40  # the config's window and token limit


@pytest.fixture(scope='module')
def root(tmp_path_factory) -> Path:
    """Videos up to 80 clips and queries up to 44 tokens: some get truncated."""
    root = tmp_path_factory.mktemp('synthetic_predictor')
    make_synthetic_dataset(str(root), num_train=2, num_val=2, num_test=6, dim=DIM,
                           num_topics=2, nuisance_dim=2, min_clips=9, max_clips=80,
                           min_tokens=3, max_tokens=44, seed=5, verbose=False)
    return root


@pytest.fixture(scope='module')
def cfg(root) -> Config:
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.encoder.update(video_dim=DIM + 2, text_dim=DIM)
    cfg.test_dataloader.dataset.update(data_root=str(root) + '/', video_dim=DIM,
                                       text_dim=DIM)
    return cfg


@pytest.fixture(scope='module')
def predictor(cfg) -> MomentPredictor:
    torch.manual_seed(0)
    return MomentPredictor(cfg)  # random weights: the pipeline is under test


def raw_features(root: Path, info: dict):
    video = np.load(root / 'features' / 'video' / f'{info["vid"]}.npz')['features']
    text = np.load(root / 'features' / 'text' / f'qid{info["qid"]}.npz')['last_hidden_state']
    return video, text


def as_windows(sample: dict) -> list:
    """[(inputs, data_sample)] of a sample: one, or one per window of a long video."""
    if isinstance(sample['data_samples'], list):
        return list(zip(sample['inputs'], sample['data_samples']))
    return [(sample['inputs'], sample['data_samples'])]


def test_prepare_equals_the_dataset_sample(root, cfg, predictor):
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    longest_video = longest_text = 0
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        video, text = raw_features(root, info)
        longest_video, longest_text = max(longest_video, len(video)), max(longest_text, len(text))
        expected = as_windows(dataset[index])
        for given in ((video, text), (torch.from_numpy(video), torch.from_numpy(text))):
            prepared = as_windows(predictor.prepare(*given, duration=info['duration'],
                                                    query=info['query'], qid=info['qid'],
                                                    vid=info['vid']))
            assert len(prepared) == len(expected) == (1 if len(video) <= MAX_CLIPS else 2)
            for (got_inputs, got), (want_inputs, want) in zip(prepared, expected):
                assert set(got_inputs) == set(want_inputs) == {'video', 'text'}
                for key in ('video', 'text'):
                    torch.testing.assert_close(got_inputs[key], want_inputs[key], rtol=0, atol=0)
                want_meta = {k: v for k, v in want.metainfo.items() if k != 'sample_idx'}
                assert got.metainfo == want_meta
                assert set(got.keys()) == set(want.keys())  # no targets on either side
                assert got.gt_instances.spans.shape == want.gt_instances.spans.shape == (0, 2)
        for inputs, want in expected:
            meta = want.metainfo
            assert meta['num_real_clips'] == min(len(video), MAX_CLIPS)
            assert meta['num_clips'] % 4 == 0 and meta['timeline'] == meta['num_clips'] * 2.0
            assert inputs['video'].shape == (meta['num_clips'], DIM + 2)
            assert len(inputs['text']) == min(len(text), MAX_TOKENS)
    # the split exercises windows and the token limit
    assert longest_video > MAX_CLIPS and longest_text > MAX_TOKENS


def test_prepare_without_duration_uses_the_clips(predictor):
    rng = np.random.default_rng(0)
    data_sample = predictor.prepare(rng.standard_normal((9, DIM)),
                                    rng.standard_normal((5, DIM)))['data_samples']
    assert data_sample.duration == 18.0
    assert (data_sample.num_real_clips, data_sample.num_clips) == (9, 12)
    assert data_sample.timeline == 24.0


def test_predict_runs_the_pipeline(predictor):
    rng = np.random.default_rng(1)
    duration = 59.0  # 30 clips of 2 s, padded to 32
    result = predictor.predict(rng.standard_normal((30, DIM)),
                               rng.standard_normal((1, 5, DIM)), duration=duration,
                               query='a query')
    assert set(result) == {'query', 'pred_relevant_windows',
                           'pred_relevant_windows_fusion', 'pred_saliency_scores'}
    assert result['query'] == 'a query'
    assert len(result['pred_saliency_scores']) == 30  # the real clips only
    for key in ('pred_relevant_windows', 'pred_relevant_windows_fusion'):
        windows = np.array(result[key])
        assert windows.ndim == 2 and windows.shape[1] == 3 and 0 < len(windows) <= 10
        # never in the padded clips past the video
        assert (windows[:, 0] >= 0).all() and (windows[:, 1] <= duration).all()
        assert (windows[:, 1] > windows[:, 0]).all()
