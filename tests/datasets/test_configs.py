"""The dataset base configs build working dataloaders with the released
pipeline (truncation, temporal endpoints, clip padding)."""
import copy
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from sgdetr.datasets import MomentDataPreprocessor

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs' / '_base_' / 'datasets'
#: the transforms of the released pipeline, in order
RELEASED_PIPELINE = ['TruncateFeatures', 'AppendTemporalEndpoints', 'PadClips',
                     'BuildMomentTargets', 'PackMomentInputs']
REMOVED_DATASET_ARGS = ('max_v_len', 'max_q_len', 'with_neg_query', 'neg_query_seed')


@pytest.mark.parametrize('name, dataset_type, metric, layout', [
    ('synthetic', 'QVHighlightsDataset', 'QVHighlightsMetric', 'npz'),
    ('qvhighlights', 'QVHighlightsDataset', 'QVHighlightsMetric', 'released'),
    ('charades_sta', 'CharadesSTADataset', 'MomentRecallMetric', 'released'),
    ('tacos', 'TACoSDataset', 'MomentRecallMetric', 'released'),
])
def test_config_fields(name, dataset_type, metric, layout):
    cfg = Config.fromfile(str(CONFIG_DIR / f'{name}.py'))
    assert isinstance(cfg.video_dim, int) and isinstance(cfg.text_dim, int)
    # the model reads the clips with their two temporal endpoint features
    assert cfg.model_video_dim == cfg.video_dim + 2
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        # evaluation lays the windows of a long video side by side
        assert loader.collate_fn.type == ('pseudo_collate' if split == 'train'
                                          else 'sgdetr.moment_collate')
        assert loader.sampler.type == 'DefaultSampler'
        assert loader.sampler.shuffle == (split == 'train')
        assert loader.persistent_workers and loader.num_workers > 0
        dataset = loader.dataset
        assert dataset.type == dataset_type
        assert dataset.video_dim == cfg.video_dim
        assert dataset.text_dim == cfg.text_dim
        assert dataset.feature_layout == layout
        assert not set(REMOVED_DATASET_ARGS) & set(dataset)
        assert dataset.get('test_mode', False) == (split != 'train')
        assert cfg[f'{split}_evaluator'].type == metric \
            if split != 'train' else True
        pipeline = dataset.pipeline
        if split != 'train':
            # whole videos: windows of max_clips clips, each through the released pipeline
            truncate, windows = pipeline
            assert truncate.type == 'TruncateFeatures' and truncate.max_clips is None
            assert windows.type == 'SlidingWindows' and windows.window == cfg.max_clips
            pipeline = [truncate, *windows.transforms]
            truncate = type(truncate)(truncate, max_clips=windows.window)
        else:
            truncate = pipeline[0]
        assert [t.type for t in pipeline] == RELEASED_PIPELINE
        assert truncate.max_clips == cfg.max_clips and truncate.max_tokens == cfg.max_tokens
        assert pipeline[2].get('multiple', 4) == 4
        # training keeps at most 10 windows per query, evaluation all of them
        assert pipeline[3].get('max_windows') == (10 if split == 'train' else None)
    for split in ('val', 'test'):
        ann_file = cfg[f'{split}_evaluator'].ann_file
        assert ann_file == (cfg.data_root +
                            cfg[f'{split}_dataloader'].dataset.ann_file)
    expected_clip_len = {'charades_sta': 1.0}.get(name, 2.0)
    assert cfg.train_dataloader.dataset.clip_len == expected_clip_len


def test_qvhighlights_config_is_the_released_setting():
    cfg = Config.fromfile(str(CONFIG_DIR / 'qvhighlights.py'))
    assert (cfg.video_dim, cfg.text_dim, cfg.model_video_dim) == (512, 512, 514)
    assert (cfg.max_clips, cfg.max_tokens) == (75, 40)
    model_cfg = Config.fromfile(str(REPO / 'configs' / 'sgdetr_qvh.py'))
    assert model_cfg.model.encoder.video_dim == 514
    assert model_cfg.model.encoder.text_dim == 512


@pytest.mark.parametrize('name', ['zero_shot_qvh', 'zero_shot_synthetic'])
def test_zero_shot_configs_read_the_clips_as_they_are(name):
    cfg = Config.fromfile(str(REPO / 'configs' / 'zero_shot' / f'{name}.py'))
    for split in ('val', 'test'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        # no endpoint features, no padding: the cosine needs the aligned space
        assert [t.type for t in pipeline] == ['TruncateFeatures', 'BuildMomentTargets',
                                              'PackMomentInputs']
        # parameter-free, no trained length: the whole video at once
        assert pipeline[0].max_clips is None and pipeline[0].max_tokens == cfg.max_tokens


def test_synthetic_config_builds_and_batches(synthetic_root):
    cfg = Config.fromfile(str(CONFIG_DIR / 'synthetic.py'))
    preprocessor = MomentDataPreprocessor()
    for split in ('train', 'val', 'test'):
        loader_cfg = copy.deepcopy(cfg[f'{split}_dataloader'])
        dataset = loader_cfg.dataset
        dataset.data_root = str(synthetic_root) + '/'
        dataset.video_dim = dataset.text_dim = 32
        loader_cfg.update(num_workers=0, persistent_workers=False,
                          batch_size=4)
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        batch = preprocessor(next(iter(loader)), training=split == 'train')
        inputs, samples = batch['inputs'], batch['data_samples']
        assert set(inputs) == {'video', 'video_mask', 'text', 'text_mask'}
        assert inputs['video'].shape[0] == 4
        assert inputs['video'].shape[2] == 32 + 2  # + the temporal endpoints
        # padded clips count as clips: the masks cover them
        lengths = [s.num_clips for s in samples]
        assert all(n % 4 == 0 for n in lengths)
        assert inputs['video_mask'].sum(1).tolist() == lengths
        for sample in samples:
            assert sample.num_clips - 4 < sample.num_real_clips <= sample.num_clips
            assert sample.timeline == sample.num_clips * 2.0
        assert inputs['text_mask'].sum(1).max() <= cfg.max_tokens
