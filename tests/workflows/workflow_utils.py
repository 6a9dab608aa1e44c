"""Helpers of the workflow tests: tiny synthetic data in the QVHighlights
layouts (npz and released), tiny versions of the full configs, the tools as
modules."""
import importlib.util
import json
from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
SHARED_ANNOTATIONS = REPO.parent / 'shared' / 'data' / 'annotations'
#: feature dim and hidden size of the tiny runs
DIM = 16
HIDDEN = 16
#: annotation fields that only a split with ground truth has
GT_FIELDS = ('relevant_windows', 'relevant_clip_ids', 'saliency_scores')


def write_jsonl(path: Path, entries: Iterable[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(e) + '\n' for e in entries))
    return path


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def without_ground_truth(lines: Iterable[dict]) -> list:
    """Annotation lines as a test release has them (no windows, no saliency)."""
    return [{k: v for k, v in line.items() if k not in GT_FIELDS} for line in lines]


def load_tool(name: str):
    """``tools/<name>.py`` as a module (its ``main(argv)`` returns the exit status)."""
    spec = importlib.util.spec_from_file_location(f'tool_{name.replace("/", "_")}',
                                                  REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loader_options(split: str, root: str, ann_file: Optional[str] = None,
                   batch_size: Optional[int] = None, **dataset) -> Dict:
    """``--cfg-options`` of one split's dataloader: ``root``, no workers."""
    options = {f'{split}_dataloader.num_workers': 0,
               f'{split}_dataloader.persistent_workers': False,
               f'{split}_dataloader.dataset.data_root': root}
    if ann_file is not None:
        options[f'{split}_dataloader.dataset.ann_file'] = ann_file
    if batch_size is not None:
        options[f'{split}_dataloader.batch_size'] = batch_size
    options.update({f'{split}_dataloader.dataset.{k}': v for k, v in dataset.items()})
    return options


def tiny_qvh_options(root: Path, train='highlight_train_release.jsonl',
                     val='highlight_val_release.jsonl',
                     test='highlight_test_release.jsonl') -> Dict:
    """Options that shrink a config built on ``sgdetr_qvh.py`` to the tiny
    npz data of ``root`` (D = 16) and a hidden size of 16."""
    root = str(root) + '/'
    features = dict(feature_layout='npz', video_feat_dirs=['features/video'],
                    text_feat_dir='features/text', video_dim=DIM, text_dim=DIM,
                    cache_features=False)
    options = {'model.encoder.video_dim': DIM + 2, 'model.encoder.text_dim': DIM,
               'model.encoder.embed_dims': HIDDEN, 'model.detr_head.num_queries': 5,
               'val_evaluator.ann_file': root + 'annotations/' + val,
               'test_evaluator.ann_file': root + 'annotations/' + test,
               'default_hooks.logger.interval': 1, 'log_level': 'WARNING'}
    for split, ann in (('train', train), ('val', val), ('test', test)):
        options.update(loader_options(split, root, 'annotations/' + ann,
                                      batch_size=4, **features))
    return options


def save_model(cfg, path: Path) -> Path:
    """The model of ``cfg`` with its initial weights, as a checkpoint."""
    from sgdetr.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def write_released_dataset(root: Path, lines: Iterable[dict], clip_len: float,
                           ann_file: str, dim: int = 512, seed: int = 0) -> Path:
    """Random features in the released layout for annotation ``lines``
    (``internvideo2_video/{vid}.pt`` (L, dim) with L = duration / clip_len,
    ``internvideo2_text/{qid}.npz`` 'features' (5, dim))."""
    rng = np.random.default_rng(seed)
    video_dir = root / 'features' / 'internvideo2_video'
    text_dir = root / 'features' / 'internvideo2_text'
    video_dir.mkdir(parents=True, exist_ok=True)
    text_dir.mkdir(parents=True, exist_ok=True)
    lines = list(lines)
    for line in lines:
        video = video_dir / f'{line["vid"]}.pt'
        if not video.exists():
            num_clips = int(round(line['duration'] / clip_len))
            torch.save(torch.from_numpy(rng.standard_normal((num_clips, dim)).astype(np.float32)),
                       video)
        np.savez(text_dir / f'{line["qid"]}.npz',
                 features=rng.standard_normal((5, dim)).astype(np.float32))
    write_jsonl(root / 'annotations' / ann_file, lines)
    return root
