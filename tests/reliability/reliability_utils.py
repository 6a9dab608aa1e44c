"""Helpers of the reliability tests: a tiny run of ``configs/sgdetr_demo.py``
on a few synthetic samples, and small file writers."""
import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs' / 'sgdetr_demo.py'
#: feature dim of the tiny synthetic data (video and text)
DIM = 16
HIDDEN = 16


@lru_cache(maxsize=None)
def _demo_config() -> Config:
    return Config.fromfile(str(DEMO_CONFIG))


def tiny_cfg(data_root: Path, work_dir: Path, max_epochs: int = 2, num_workers: int = 0,
             name: Optional[str] = None, **options) -> Config:
    """``sgdetr_demo.py`` shrunk: hidden 16, 5 queries, batch 4, the data of
    ``data_root``; ``options`` are ``--cfg-options`` style overrides."""
    cfg = copy.deepcopy(_demo_config())
    root = str(data_root) + '/'
    overrides = {
        'model.encoder.video_dim': DIM + 2, 'model.encoder.text_dim': DIM,
        'model.encoder.embed_dims': HIDDEN, 'model.detr_head.num_queries': 5,
        'train_dataloader.batch_size': 4,
        'train_cfg.max_epochs': max_epochs, 'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.logger.interval': 1,
        'val_evaluator.ann_file': root + 'annotations/highlight_val_release.jsonl',
        'test_evaluator.ann_file': root + 'annotations/highlight_test_release.jsonl',
        'work_dir': str(work_dir), 'log_level': 'WARNING',
        'experiment_name': name or f'{Path(work_dir).name}-{id(work_dir)}',
    }
    for split in ('train', 'val', 'test'):
        overrides.update({f'{split}_dataloader.dataset.data_root': root,
                          f'{split}_dataloader.dataset.video_dim': DIM,
                          f'{split}_dataloader.dataset.text_dim': DIM,
                          f'{split}_dataloader.num_workers': 0,
                          f'{split}_dataloader.persistent_workers': False})
    # workers read the training data only (their start-up is what costs)
    overrides.update({'train_dataloader.num_workers': num_workers,
                      'train_dataloader.persistent_workers': num_workers > 0})
    overrides.update(options)
    cfg.merge_from_dict(overrides)
    cfg.param_scheduler = [dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
                                milestones=[1], gamma=0.5)]
    return cfg


def write_jsonl(path: Path, entries) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(e) + '\n' for e in entries))
    return path


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def rewrite_npz(path: Path, key: str, transform) -> None:
    """Replace the array ``key`` of ``path`` by ``transform(array)``."""
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays[key] = transform(arrays[key])
    np.savez(path, **arrays)


_CONFIG_TEMPLATE = '''\
_base_ = [{base!r}]
_root = {root!r}
_dataset = dict(data_root=_root, video_dim={dim}, text_dim={dim})
model = dict(encoder=dict(video_dim={dim} + 2, text_dim={dim}, embed_dims={hidden}),
             detr_head=dict(num_queries=5))
train_dataloader = dict(batch_size=4, dataset=_dataset)
val_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=_dataset)
val_evaluator = dict(ann_file=_root + 'annotations/highlight_val_release.jsonl')
test_evaluator = dict(ann_file=_root + 'annotations/highlight_test_release.jsonl')
train_cfg = dict(max_epochs={epochs}, val_interval=1)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, begin=0, end={epochs},
                        milestones=[1], gamma=0.5)]
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
log_level = 'WARNING'
experiment_name = {name!r}
'''


def write_tiny_config(path: Path, data_root: Path, epochs: int = 1, extra: str = '',
                      name: Optional[str] = None) -> Path:
    """A config file inheriting ``sgdetr_demo.py`` shrunk as :func:`tiny_cfg`,
    for the command-line tools; ``extra`` is appended verbatim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_CONFIG_TEMPLATE.format(
        base=str(DEMO_CONFIG), root=str(data_root) + '/', dim=DIM, hidden=HIDDEN,
        epochs=epochs, name=name or f'{path.stem}-{id(path)}') + extra)
    return path


def load_tool(name: str):
    """``tools/<name>.py`` as a module (its ``main(argv)`` returns the exit status)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'tool_{name.replace("/", "_")}',
                                                  REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
