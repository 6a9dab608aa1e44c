"""The whole model on a CUDA device: training step, validation step, predictor.

Skipped where no CUDA device is present. Each check compares with the same
computation on the CPU, so a kernel that differs or a tensor left on the host
shows up here.
"""
import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'models'))
from model_test_utils import (build_tiny_model, collate, make_sample, training_batch,  # noqa: E402
                              without_drop_path)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason='no CUDA device here: the CUDA path is not checked')


def without_dropout(model):
    for module in without_drop_path(model).modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, 'dropout', None), float):
            module.dropout = 0.0
    return model


def test_train_step_on_cuda_gives_the_cpu_losses_and_updates_every_parameter():
    cpu = without_dropout(build_tiny_model(seed=0))
    gpu = copy.deepcopy(cpu).cuda()
    losses = {}
    for name, model in (('cpu', cpu), ('cuda', gpu)):
        model.train()
        wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        torch.manual_seed(0)
        losses[name] = model.train_step(training_batch(), wrapper)
        moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
        assert len(moved) > 0.9 * len(before), name
    for key, value in losses['cpu'].items():
        assert losses['cuda'][key].device.type == 'cuda'
        torch.testing.assert_close(losses['cuda'][key].cpu(), value, atol=1e-4, rtol=1e-3)


def test_val_step_on_cuda_gives_the_cpu_predictions():
    cpu = build_tiny_model(seed=1).eval()
    gpu = copy.deepcopy(cpu).cuda()
    expected = cpu.val_step(training_batch())
    actual = gpu.val_step(training_batch())
    for e, a in zip(expected, actual):
        torch.testing.assert_close(a.pred_saliency.cpu(), e.pred_saliency, atol=1e-4, rtol=0)
        torch.testing.assert_close(a.pred_instances.spans.cpu(), e.pred_instances.spans,
                                   atol=2.0, rtol=0)  # rounded to 2 s: may flip at a tie


def test_the_forward_does_not_synchronise_with_the_host():
    model = build_tiny_model(seed=2).cuda().eval()
    data = model.data_preprocessor(training_batch(), False)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        with torch.no_grad():
            enc = model.encode(data['inputs'])
            model.detr_head(enc.memory, data['inputs']['video_mask'], enc.pos, enc.levels,
                            enc.level_masks)
            model.atss_head(enc.levels, enc.level_masks)
    finally:
        torch.cuda.set_sync_debug_mode('default')


def mixed_batch(size):
    shapes = [(12, [(1, 4), (7, 10)]), (8, [(2, 6)]), (16, [(0, 3), (5, 7), (11, 15)])]
    return collate([make_sample(shapes[i % 3][0], 5, shapes[i % 3][1], seed=i)
                    for i in range(size)])


def test_synchronisations_of_a_training_step_do_not_grow_with_the_batch():
    model = build_tiny_model(seed=3).cuda().train()
    counts = []
    for size in (3, 40):  # 40: several chunks of the matcher
        data = model.data_preprocessor(mixed_batch(size), True)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            torch.cuda.set_sync_debug_mode('warn')
            try:
                model(**data, mode='loss')
            finally:
                torch.cuda.set_sync_debug_mode('default')
        counts.append(sum('synchroniz' in str(w.message) for w in caught))
    assert counts[0] == counts[1], counts


def test_pinned_batches_reach_the_gpu_padded():
    model = build_tiny_model(seed=4).cuda()
    batch = training_batch()
    batch['inputs'] = {k: [t.pin_memory() for t in v] for k, v in batch['inputs'].items()}
    inputs = model.data_preprocessor(batch, True)['inputs']
    expected = build_tiny_model(seed=4).data_preprocessor(training_batch(), True)['inputs']
    for key, value in expected.items():
        assert inputs[key].device.type == 'cuda'
        assert torch.equal(inputs[key].cpu(), value)


def test_predictor_on_cuda_reads_a_long_video_like_the_cpu(tmp_path):
    from sgdetr.apis import MomentPredictor
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'apis'))
    from search_library import DIM, tiny_checkpoint, tiny_sgdetr_cfg
    cfg = tiny_sgdetr_cfg()
    checkpoint = tiny_checkpoint(cfg, tmp_path / 'tiny.pth')
    rng = np.random.default_rng(0)
    video = rng.standard_normal((400, DIM)).astype(np.float32)  # several windows
    text = rng.standard_normal((6, DIM)).astype(np.float32)
    results = [MomentPredictor(cfg, checkpoint, device=device).predict(video, text)
               for device in ('cpu', 'cuda')]
    np.testing.assert_allclose(results[1]['pred_saliency_scores'],
                               results[0]['pred_saliency_scores'], atol=1e-4)
    assert len(results[1]['pred_saliency_scores']) == 400
    assert len(results[1]['pred_relevant_windows']) == len(results[0]['pred_relevant_windows'])
