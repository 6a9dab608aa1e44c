"""Tiny builders shared by the model tests (``from model_test_utils import ...``).

Sizes are tiny (hidden 16-32, a handful of clips) so that the whole folder
runs in seconds on a CPU; the behaviour tested does not depend on them. The
module has its own name because ``conftest`` is ambiguous when several test
folders are collected together (tests/datasets has one too).
"""
import copy
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
from mmcv.cnn.bricks import DropPath
from mmdet.models.task_modules import ATSSAssigner
from mmengine.config import Config
from mmengine.structures import InstanceData
from torch import Tensor, nn

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.datasets.transforms import sample_saliency_pairs
from sgdetr.registry import MODELS
from sgdetr.structures import MomentDataSample, lift_spans

REPO = Path(__file__).parents[2]
DEMO_CONFIG = REPO / 'configs' / 'sgdetr_demo.py'
QVH_CONFIG = REPO / 'configs' / 'sgdetr_qvh.py'
OFFICIAL_STATE_DICT_JSON = REPO / 'tests' / 'data' / 'official_qvhighlights_state_dict.json'

#: sizes of the tiny detector
HIDDEN = 32
VIDEO_DIM = 10  # features + the 2 temporal endpoint features
TEXT_DIM = 8
NUM_QUERIES = 10
CLIP_LEN = 2.0
NUM_ANNOTATORS = 3


# -- masks and tensors ---------------------------------------------------------
def length_mask(lengths: Sequence[int], total: Optional[int] = None) -> Tensor:
    """(B, T) bool, True for the first ``lengths[b]`` positions."""
    total = max(lengths) if total is None else total
    return torch.arange(total)[None] < torch.tensor(lengths)[:, None]


def fill_padding(x: Tensor, mask: Tensor, value: float = 1e3, seed: int = 123) -> Tensor:
    """``x`` with its padded positions (``mask`` False) replaced by large noise."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator) * value
    return torch.where(mask.reshape(mask.shape + (1, ) * (x.dim() - mask.dim())), x, noise)


def pyramid_inputs(lengths: Sequence[int], total: int, dims: int, seed: int = 0):
    """Random pyramid levels (2L, L, L/2, L/4 positions) and their masks, for videos of
    ``lengths`` clips padded to ``total`` (multiples of 4)."""
    g = torch.Generator().manual_seed(seed)
    sizes = (2 * total, total, total // 2, total // 4)
    masks = [length_mask([n * s // total for n in lengths], total=s) for s in sizes]
    levels = [torch.randn(len(lengths), s, dims, generator=g) for s in sizes]
    return levels, masks


def randomise_parameters(module: nn.Module, seed: int = 0, scale: float = 0.2) -> nn.Module:
    """Move every parameter off its initial value (zero-initialised layers
    included), so that no layer hides behind a trivial weight."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return module


def without_drop_path(module: nn.Module) -> nn.Module:
    """Stochastic depth off (it may drop a whole residual branch for every sample of a
    tiny batch, and then that branch rightly gets no gradient); dropout stays."""
    for m in module.modules():
        if isinstance(m, DropPath):
            m.drop_prob = 0.0
    return module


def assert_gradients_reach(module: nn.Module, loss: Tensor,
                           allow_zero: Iterable[str] = ()) -> None:
    """Backpropagate ``loss``; every parameter must get a finite gradient that is
    not identically zero (except the names in ``allow_zero``, which must still be
    connected)."""
    module.zero_grad(set_to_none=True)
    loss.backward()
    allow_zero = set(allow_zero)
    missing, zero = [], []
    for name, parameter in module.named_parameters():
        if parameter.grad is None:
            missing.append(name)
            continue
        assert torch.isfinite(parameter.grad).all(), f'{name}: non-finite gradient'
        if not parameter.grad.abs().sum() > 0 and name not in allow_zero:
            zero.append(name)
    assert not missing, f'not connected to the loss: {missing}'
    assert not zero, f'zero gradient: {zero}'


def mmdet_atss(topk: int, anchors: Tensor, num_level_anchors: List[int],
               gt_spans: Tensor) -> Tensor:
    """MMDetection's ``ATSSAssigner`` on one sample's lifted spans (the reference of
    :class:`sgdetr.models.task_modules.SpanATSSAssigner`).

    Args:
        anchors: (N, 2) level-major.  num_level_anchors: per level.  gt_spans: (K, 2).
    Returns:
        (N,) long: the assigned GT or -1.
    """
    if len(gt_spans) == 0:
        return torch.full((len(anchors), ), -1, dtype=torch.long)
    assigner = ATSSAssigner(topk=topk, iou_calculator=dict(type='sgdetr.SpanOverlaps1D'))
    result = assigner.assign(
        InstanceData(priors=lift_spans(anchors)), num_level_anchors,
        InstanceData(bboxes=lift_spans(gt_spans),
                     labels=torch.zeros(len(gt_spans), dtype=torch.long)))
    return result.gt_inds - 1  # mmdet: 0 = background, i + 1 = GT i


# -- the tiny detector -----------------------------------------------------------
@lru_cache(maxsize=None)
def _demo_config() -> Config:
    return Config.fromfile(str(DEMO_CONFIG))


def tiny_model_cfg(options: Optional[Dict] = None) -> Config:
    """The model of ``configs/sgdetr_demo.py`` shrunk to tiny sizes, with the
    released (projected) local saliency.

    ``options`` are ``--cfg-options`` style overrides (dotted keys below
    ``model``), applied after the shrinking ones.
    """
    cfg = copy.deepcopy(_demo_config())
    cfg.merge_from_dict({
        'model.encoder.embed_dims': HIDDEN,
        'model.encoder.video_dim': VIDEO_DIM,
        'model.encoder.text_dim': TEXT_DIM,
        'model.detr_head.num_queries': NUM_QUERIES,
        'model.encoder.saliency_space': 'projected',
    })
    if options:
        cfg.merge_from_dict({f'model.{k}': v for k, v in options.items()})
    return cfg.model


def build_tiny_model(seed: int = 0, **options):
    """A tiny SGDETR; ``options`` as :func:`tiny_model_cfg` (dots as ``__``)."""
    torch.manual_seed(seed)
    return MODELS.build(tiny_model_cfg({k.replace('__', '.'): v for k, v in options.items()}))


def make_sample(num_clips: int, num_tokens: int, windows: Sequence[Sequence[float]],
                seed: int = 0, vid: Optional[str] = None, duration: Optional[float] = None,
                num_real_clips: Optional[int] = None, clip_len: float = CLIP_LEN,
                video_dim: int = VIDEO_DIM, text_dim: int = TEXT_DIM):
    """One (inputs, data sample) pair in the format of the released pipeline.

    Args:
        num_clips: clips of the (padded) video, a multiple of 4.
        windows: GT windows in clips ``[first, end)`` (floats allowed).
        num_real_clips: clips before the pipeline's padding (default all).
    """
    generator = torch.Generator().manual_seed(seed)
    timeline = num_clips * clip_len
    num_real_clips = num_clips if num_real_clips is None else num_real_clips
    sample = MomentDataSample(metainfo=dict(
        qid=seed, vid=vid if vid is not None else f'v{seed}', query='q',
        duration=duration if duration is not None else num_real_clips * clip_len,
        clip_len=clip_len, num_clips=num_clips, num_real_clips=num_real_clips,
        timeline=timeline))
    spans = torch.tensor(windows, dtype=torch.float32).reshape(-1, 2) / num_clips
    sample.gt_instances = InstanceData(spans=spans,
                                       labels=torch.zeros(len(spans), dtype=torch.long))
    saliency = torch.zeros(num_clips, NUM_ANNOTATORS)
    for first, end in windows:
        first, end = int(first), max(int(first) + 1, int(round(end)))
        saliency[first:end] = torch.randint(1, 5, (end - first, NUM_ANNOTATORS),
                                            generator=generator).float()
    sample.gt_saliency = saliency
    pos, neg = sample_saliency_pairs(saliency.numpy(), saliency.sum(-1).nonzero()[:, 0].numpy(),
                                     num_clips, rng=np.random.default_rng(seed))
    sample.pos_clip_indices, sample.neg_clip_indices = torch.from_numpy(pos), torch.from_numpy(neg)
    video = torch.randn(num_clips, video_dim, generator=generator)
    video[num_real_clips:] = 0
    inputs = dict(video=video, text=torch.randn(num_tokens, text_dim, generator=generator))
    return inputs, sample


def collate(pairs) -> dict:
    """``pseudo_collate`` output (fresh data samples: ``predict`` writes into them)."""
    return dict(inputs=dict(video=[i['video'] for i, _ in pairs],
                            text=[i['text'] for i, _ in pairs]),
                data_samples=[copy.deepcopy(s) for _, s in pairs])


def training_batch(seed: int = 0):
    return collate([make_sample(12, 5, [(1, 4), (7, 10)], seed=seed),
                    make_sample(8, 7, [(2, 6)], seed=seed + 1),
                    make_sample(16, 4, [(0, 3), (5, 7), (11, 15)], seed=seed + 2)])


def compute_losses(model, data) -> Dict[str, Tensor]:
    model.train()
    return model(**model.data_preprocessor(data, True), mode='loss')


def predict(model, data) -> List:
    model.eval()
    with torch.no_grad():
        return model(**model.data_preprocessor(data, False), mode='predict')
