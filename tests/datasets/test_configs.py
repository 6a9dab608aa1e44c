"""The dataset base configs build working dataloaders."""
import copy
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from sgdetr.datasets import MomentDataPreprocessor

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / \
    'datasets'


@pytest.mark.parametrize('name, dataset_type, metric', [
    ('synthetic', 'QVHighlightsDataset', 'QVHighlightsMetric'),
    ('qvhighlights', 'QVHighlightsDataset', 'QVHighlightsMetric'),
    ('charades_sta', 'CharadesSTADataset', 'MomentRecallMetric'),
    ('tacos', 'TACoSDataset', 'MomentRecallMetric'),
])
def test_config_fields(name, dataset_type, metric):
    cfg = Config.fromfile(str(CONFIG_DIR / f'{name}.py'))
    assert isinstance(cfg.video_dim, int) and isinstance(cfg.text_dim, int)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        assert loader.collate_fn.type == 'pseudo_collate'
        assert loader.sampler.type == 'DefaultSampler'
        assert loader.sampler.shuffle == (split == 'train')
        assert loader.persistent_workers and loader.num_workers > 0
        dataset = loader.dataset
        assert dataset.type == dataset_type
        assert dataset.video_dim == cfg.video_dim
        assert dataset.text_dim == cfg.text_dim
        assert dataset.get('with_neg_query', False) == (split == 'train')
        assert dataset.get('test_mode', False) == (split != 'train')
        assert cfg[f'{split}_evaluator'].type == metric \
            if split != 'train' else True
    for split in ('val', 'test'):
        ann_file = cfg[f'{split}_evaluator'].ann_file
        assert ann_file == (cfg.data_root +
                            cfg[f'{split}_dataloader'].dataset.ann_file)
    expected_clip_len = {'charades_sta': 1.0}.get(name, 2.0)
    assert cfg.train_dataloader.dataset.clip_len == expected_clip_len


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
        assert batch['inputs']['video'].shape[0] == 4
        assert ('neg_text' in batch['inputs']) == (split == 'train')
