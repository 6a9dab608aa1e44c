"""Released SG-DETR checkpoints: tensor names both ways, conversion, safe loading, the CLI."""
import functools
import importlib.util
import json
import os
import re
import subprocess

import numpy as np
import pytest
import torch
from mmengine.config import Config

from model_test_utils import OFFICIAL_STATE_DICT_JSON, QVH_CONFIG, REPO, build_tiny_model
from sgdetr.engine.official_checkpoint import (UNUSED_OFFICIAL, ConversionError, OpaqueObject,
                                               check_anchor_templates, convert_state_dict,
                                               is_unused_official, load_released_checkpoint,
                                               official_state_dict, official_to_sgdetr_key,
                                               sgdetr_to_official_key)
from sgdetr.registry import MODELS

CONVERTER = REPO / 'tools' / 'model_converters' / 'official_to_sgdetr.py'


@pytest.fixture(scope='module')
def qvh_model():
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(str(QVH_CONFIG)).model)


@pytest.fixture(scope='module')
def released_shapes():
    with open(OFFICIAL_STATE_DICT_JSON) as handle:
        return {k: tuple(v) for k, v in json.load(handle)['tensors'].items()}


def random_released_state_dict(shapes, model, seed=0):
    """A 'released' state dict of the recorded names and shapes, random values (the
    anchor templates as the released head computes them)."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=g) * 0.05 for k, shape in shapes.items()}
    for i, (stride, size) in enumerate(zip(model.atss_head.strides,
                                           model.atss_head.anchor_sizes)):
        state[f'aux_det_head.anchor_generator.cell_anchors.{i}'] = torch.tensor(
            [[stride / 2 - (size - 1) / 2, stride / 2 + (size - 1) / 2]])
    return state


# -- names -------------------------------------------------------------------------
@pytest.mark.parametrize('which', ['qvh', 'tiny'])
def test_every_tensor_name_round_trips(which, qvh_model):
    model = qvh_model if which == 'qvh' else build_tiny_model()
    keys = list(model.state_dict())
    official = {}
    for key in keys:
        name = sgdetr_to_official_key(key)
        assert name is not None, key
        assert official_to_sgdetr_key(name) == key, (key, name)
        assert is_unused_official(name) is None, name
        official[name] = key
    assert len(official) == len(keys)  # one released name per tensor


def test_released_state_dict_maps_onto_the_qvh_model_exactly(qvh_model, released_shapes):
    ours = {k: tuple(v.shape) for k, v in qvh_model.state_dict().items()}
    covered, unused = {}, []
    for name, shape in released_shapes.items():
        if is_unused_official(name):
            unused.append(name)
            continue
        key = official_to_sgdetr_key(name)
        assert key in ours, f'{name} -> {key}: no such tensor'
        # scalars are stored as (1,) on one side and () on the other
        assert shape == ours[key] or (np.prod(shape) == 1 and np.prod(ours[key]) == 1), \
            f'{name} {shape} -> {key} {ours[key]}'
        assert key not in covered, f'{name} and {covered.get(key)} both map to {key}'
        covered[key] = name
    assert set(covered) == set(ours), sorted(set(ours) - set(covered))
    assert sorted(unused) == sorted(k for k in released_shapes if any(
        re.fullmatch(p, k) for p in UNUSED_OFFICIAL))
    assert len(unused) == 7  # 3 text-position tensors, 4 anchor templates
    total = sum(int(np.prod(s)) for k, s in released_shapes.items() if k not in unused)
    assert total == sum(v.numel() for v in qvh_model.state_dict().values())


# -- conversion ---------------------------------------------------------------------
def test_convert_state_dict_reports_the_unused_tensors(qvh_model, released_shapes):
    official = random_released_state_dict(released_shapes, qvh_model)
    converted, report = convert_state_dict(official, qvh_model.state_dict())
    assert set(converted) == set(qvh_model.state_dict())
    assert set(report['unused']) == {k for k in official if is_unused_official(k)}
    assert all(report['unused'].values())
    torch.testing.assert_close(converted['encoder.modality_embed.embedding.weight'],
                               official['modality_embeddings.weight'])
    assert converted['encoder.local_saliency.log_scale'].shape == ()
    qvh_model.load_state_dict(converted, strict=True)


def test_convert_state_dict_lists_every_problem(qvh_model, released_shapes):
    official = random_released_state_dict(released_shapes, qvh_model)
    official['main_det_head.extra_head.weight'] = torch.zeros(3)
    official['modality_embeddings.weight'] = torch.zeros(3, 256)
    del official['fpn.level0.0.depthwise.weight' if 'fpn.level0.0.depthwise.weight' in official
                 else next(k for k in official if k.startswith('fpn.level0'))]
    with pytest.raises(ConversionError) as error:
        convert_state_dict(official, qvh_model.state_dict())
    message = str(error.value)
    assert 'main_det_head.extra_head.weight (3,): no tensor of the model' in message
    assert ('modality_embeddings.weight (3, 256) -> encoder.modality_embed.embedding.weight '
            '(2, 256): shape mismatch') in message
    assert 'no released tensor' in message and 'pyramid.full' in message


def test_anchor_templates_must_match_the_head(qvh_model, released_shapes):
    official = random_released_state_dict(released_shapes, qvh_model)
    head = qvh_model.atss_head
    check_anchor_templates(official, head.strides, head.anchor_sizes)
    with pytest.raises(ConversionError, match='anchor template 2'):
        check_anchor_templates(official, head.strides, (4, 16, 24, 64))


def test_official_state_dict_accepts_lightning_and_bare_dicts():
    tensors = {'a.weight': torch.zeros(2)}
    assert official_state_dict({'state_dict': {'model.a.weight': tensors['a.weight'],
                                               'other.b': torch.ones(1)}}) == tensors
    assert official_state_dict({'model.a.weight': tensors['a.weight']}) == tensors
    assert official_state_dict(tensors) == tensors
    with pytest.raises(ConversionError, match='not a checkpoint'):
        official_state_dict({'state_dict': {'a': 'text'}})
    with pytest.raises(ConversionError, match='not a checkpoint'):
        official_state_dict(OpaqueObject())


# -- safe loading ------------------------------------------------------------------------
def test_loads_a_lightning_checkpoint_without_running_its_objects(tmp_path):
    state = {'model.modality_embeddings.weight': torch.randn(2, 4)}
    path = tmp_path / 'released.ckpt'
    torch.save({'state_dict': state, 'epoch': 3, 'hyper_parameters': {
        'optimizer': functools.partial(torch.optim.AdamW, lr=1e-3)}}, path)
    checkpoint = load_released_checkpoint(str(path))
    torch.testing.assert_close(checkpoint['state_dict']['model.modality_embeddings.weight'],
                               state['model.modality_embeddings.weight'])
    assert checkpoint['epoch'] == 3
    optimizer = checkpoint['hyper_parameters']['optimizer']
    assert isinstance(optimizer, OpaqueObject) and not callable(getattr(optimizer, 'func', None))
    assert official_state_dict(checkpoint) == {
        'modality_embeddings.weight': checkpoint['state_dict']['model.modality_embeddings.weight']}


class _RunsCode:
    """Unpickling this calls ``os.system``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _RunsSubprocess(_RunsCode):
    def __reduce__(self):
        return subprocess.call, (['touch', str(self.marker)], )


def test_code_of_a_module_torch_does_not_block_is_not_run(tmp_path):
    marker = tmp_path / 'was_run'
    path = tmp_path / 'malicious.ckpt'
    torch.save({'state_dict': {'model.a': torch.zeros(1)},
                'hyper_parameters': {'x': _RunsSubprocess(marker)}}, path)
    checkpoint = load_released_checkpoint(str(path))
    assert not marker.exists()
    assert isinstance(checkpoint['hyper_parameters']['x'], OpaqueObject)
    assert official_state_dict(checkpoint).keys() == {'a'}


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'was_run'
    path = tmp_path / 'malicious.ckpt'
    for payload in ({'state_dict': {'model.a': torch.zeros(1)},
                     'hyper_parameters': {'x': _RunsCode(marker)}}, _RunsCode(marker)):
        torch.save(payload, path)
        with pytest.raises(ConversionError, match='cannot be read as a checkpoint'):
            load_released_checkpoint(str(path))
        assert not marker.exists()
    path.write_bytes(b'not a pickle at all')
    with pytest.raises(ConversionError, match='cannot be read'):
        load_released_checkpoint(str(path))


# -- the command line tool --------------------------------------------------------------
def load_converter():
    spec = importlib.util.spec_from_file_location('official_to_sgdetr', CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converter_end_to_end_then_the_predictor_loads_it(tmp_path, qvh_model, released_shapes,
                                                          capsys):
    from sgdetr.apis import MomentPredictor
    official = random_released_state_dict(released_shapes, qvh_model, seed=1)
    src, dst = tmp_path / 'released.ckpt', tmp_path / 'converted.pth'
    torch.save({'state_dict': {'model.' + k: v for k, v in official.items()},
                'hyper_parameters': {'optimizer': functools.partial(torch.optim.AdamW,
                                                                    lr=1e-3)}}, src)
    converter = load_converter()
    converter.main([str(src), str(dst), '--config', str(QVH_CONFIG)])
    printed = capsys.readouterr().out
    assert f'{len(qvh_model.state_dict())} tensors converted' in printed
    assert 'not converted: txt_position_embed.position_embeddings.weight' in printed
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert saved['meta']['converted_from'] == 'released.ckpt'
    assert len(saved['meta']['unused_released_tensors']) == 7

    predictor = MomentPredictor(str(QVH_CONFIG), str(dst))
    weights = predictor.model.state_dict()
    for name in ('modality_embeddings.weight', 'local_saliency_head.temp',
                 'main_det_head.decoder.layers.1.ca_qpos_sine_proj.weight',
                 'aux_det_head.regression_head.scales.2.scale'):
        torch.testing.assert_close(weights[official_to_sgdetr_key(name)].reshape(-1),
                                   official[name].reshape(-1))
    g = np.random.default_rng(0)
    result = predictor.predict(g.normal(size=(30, 512)).astype(np.float32),
                               g.normal(size=(6, 512)).astype(np.float32), duration=59.0)
    assert len(result['pred_saliency_scores']) == 30
    windows = np.asarray(result['pred_relevant_windows'])
    assert 0 < len(windows) <= 10 and (windows[:, :2] >= 0).all()
    assert (windows[:, :2] <= 59.0).all()
    assert 'pred_relevant_windows_fusion' in result


def test_converter_refuses_a_checkpoint_that_does_not_fit(tmp_path, qvh_model, released_shapes):
    official = random_released_state_dict(released_shapes, qvh_model)
    official['main_det_head.extra.weight'] = torch.zeros(1)
    src, dst = tmp_path / 'released.ckpt', tmp_path / 'converted.pth'
    torch.save({'state_dict': {'model.' + k: v for k, v in official.items()}}, src)
    with pytest.raises(SystemExit, match='main_det_head.extra.weight'):
        load_converter().main([str(src), str(dst)])
    assert not dst.exists()
