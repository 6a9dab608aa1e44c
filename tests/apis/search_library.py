"""Small libraries of feature files and tiny models for the search tests.

A library is a directory of ``{vid}.npz`` (key ``features``, (L, 16)) with
random unit clips; :func:`write_library` can plant a moment (clips close to
one direction) in one video, and :func:`planted_query` gives token features
of that direction.
"""
import copy
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
DIM = 16
#: (vid, clips) of the default library; 'long' spans three trained windows
VIDEOS = (('alpha', 30), ('bravo', 41), ('charlie', 24), ('delta', 36), ('long', 190))


def unit(rng, *shape):
    array = rng.standard_normal(shape + (DIM,)).astype(np.float32)
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def direction(seed=123):
    return unit(np.random.default_rng(seed))


def write_video(directory, vid, num_clips, seed, planted=None, dim=DIM):
    """Write ``{vid}.npz``; ``planted=(start, end)`` clips carry :func:`direction`."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((num_clips, dim)).astype(np.float32)
    if planted is not None:
        start, end = planted
        features[start:end] = 4 * direction()[:dim] + 0.3 * features[start:end]
    path = Path(directory) / f'{vid}.npz'
    np.savez(path, features=features)
    return path


def write_library(directory, videos=VIDEOS, planted=None):
    """``planted=(vid, start, end)``; returns the directory."""
    os.makedirs(directory, exist_ok=True)
    for seed, (vid, clips) in enumerate(videos):
        span = planted[1:] if planted and planted[0] == vid else None
        write_video(directory, vid, clips, seed, span)
    return str(directory)


def planted_query(num_tokens=5, seed=7):
    """(N, 16) tokens around :func:`direction`."""
    rng = np.random.default_rng(seed)
    return (direction() + 0.3 * unit(rng, num_tokens)).astype(np.float32)


def touch(path, content_seed=None, num_clips=None):
    """Rewrite a library file (new content when ``content_seed`` is given)
    with a later modification time."""
    path = Path(path)
    if content_seed is not None:
        rng = np.random.default_rng(content_seed)
        clips = num_clips or len(np.load(path)['features'])
        np.savez(path, features=rng.standard_normal((clips, DIM)).astype(np.float32))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@lru_cache(maxsize=None)
def _config(name):
    return Config.fromfile(str(REPO / 'configs' / name))


def zero_shot_cfg():
    """The parameter-free baseline on 16-d features (75 clips, 40 tokens)."""
    cfg = copy.deepcopy(_config('zero_shot/zero_shot_synthetic.py'))
    cfg.test_dataloader.dataset.video_dim = cfg.test_dataloader.dataset.text_dim = DIM
    return cfg


def tiny_sgdetr_cfg(**overrides):
    """``configs/sgdetr_demo.py`` at hidden 16 on 16-d features, released
    (projected) local saliency: the window a clip is read in matters."""
    cfg = copy.deepcopy(_config('sgdetr_demo.py'))
    cfg.merge_from_dict({'model.encoder.video_dim': DIM + 2, 'model.encoder.text_dim': DIM,
                         'model.encoder.embed_dims': 16, 'model.encoder.saliency_space':
                         'projected', 'model.detr_head.num_queries': 5,
                         'test_dataloader.dataset.video_dim': DIM,
                         'test_dataloader.dataset.text_dim': DIM, **overrides})
    return cfg


def tiny_checkpoint(cfg, path, seed=0):
    """Random weights of ``cfg``'s model, saved as MMEngine does."""
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import save_checkpoint

    from sgdetr.registry import MODELS
    init_default_scope('sgdetr')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, str(path))
    return str(path)
