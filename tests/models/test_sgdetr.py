"""Whole-model behaviour of SGDETR: configs/sgdetr_demo.py shrunk to hidden size 32.

Batches are in the format the released pipeline produces (videos padded to a
multiple of 4 clips, temporal endpoint features included) and go through the
model's data preprocessor, as in a real run.
"""
import re

import pytest
import torch

from model_test_utils import (CLIP_LEN, NUM_QUERIES, TEXT_DIM, VIDEO_DIM, build_tiny_model,
                              collate, compute_losses, make_sample, predict,
                              randomise_parameters, training_batch, without_drop_path)
from sgdetr.models.detectors import SGDETR, source_video

#: hidden layers behind a zero-initialised last layer (the offset regressors
#: start at their reference): their gradient is exactly zero in the first step
ZERO_IN_FIRST_STEP = (
    r'detr_head\.query_selector\.offset_head\.layers\.[02]\.(weight|bias)',
    r'detr_head\.decoder\.ref_refiner\.layers\.[02]\.(weight|bias)',
    r'detr_head\.span_head\.layers\.[02]\.(weight|bias)',
)


def every_level_batch():
    """A long video whose windows give ATSS positives on every pyramid level
    (anchor sizes 4 to 64 units of 2 s), with two shorter ones."""
    return collate([make_sample(64, 5, [(2, 62), (10, 40), (44, 52), (20, 22)], seed=0),
                    make_sample(12, 7, [(1, 4)], seed=1),
                    make_sample(16, 4, [(0, 3), (5, 13)], seed=2)])


def gradients(model, data):
    model.zero_grad(set_to_none=True)
    losses = compute_losses(model, data)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    return {name: p.grad for name, p in model.named_parameters()}


def test_a_loss_step_reaches_every_parameter():
    model = without_drop_path(build_tiny_model(seed=0))
    grads = gradients(model, every_level_batch())
    assert not [n for n, g in grads.items() if g is None], 'parameters outside the graph'
    zero = sorted(n for n, g in grads.items() if not g.abs().sum() > 0)
    expected = sorted(n for n in grads if any(re.fullmatch(p, n) for p in ZERO_IN_FIRST_STEP))
    assert zero == expected
    # once the zero layers have moved, every parameter learns
    randomise_parameters(model)
    grads = gradients(model, every_level_batch())
    zero = sorted(n for n, g in grads.items() if not g.abs().sum() > 0)
    assert not zero, zero


def test_loss_terms_of_the_full_model():
    model = build_tiny_model()
    losses = compute_losses(model, training_batch())
    prefixes = {key.split('.')[0] for key in losses if '.' in key}
    assert prefixes == {'atss', 'enc', 'd0', 'd1', 'd2', 'collab', 'hd_local', 'hd_global'}
    assert {'loss_align', 'loss_moment_clip', 'hd_global.loss_neg', 'hd_local.loss_rank',
            'collab.d2.loss_span', 'enc.loss_iou', 'd2.loss_iou'} <= set(losses)
    # untrained, on random features: no term is exactly 0 (one that is has lost its inputs)
    assert all(torch.isfinite(v) and v > 0 for v in losses.values()), losses


def test_batch_larger_than_the_clips_with_many_windows():
    g = torch.Generator().manual_seed(0)
    pairs = []
    for b in range(40):
        count = int(torch.randint(10, 25, (1, ), generator=g))
        first = torch.randint(0, 24, (count, ), generator=g)
        length = torch.randint(1, 6, (count, ), generator=g)
        windows = torch.stack([first, (first + length).clamp(max=24)], -1).tolist()
        # some samples are cut from one video (no negative pair between them)
        pairs.append(make_sample(24, 3 + b % 5, windows, seed=b,
                                 vid=f'v{b // 3}_{b % 3 * 30}.0_{b % 3 * 30 + 30}.0'))
    pairs.append(make_sample(24, 4, [], seed=99))  # a highlight-only sample without windows
    model = build_tiny_model()
    losses = compute_losses(model, collate(pairs))
    assert all(torch.isfinite(v) for v in losses.values()), losses
    assert 'collab.d0.loss_label' in losses
    sum(losses.values()).backward()


def test_no_negative_pairs_between_clips_of_one_video():
    assert source_video('abc_60.0_210.0') == 'abc' and source_video('abc') == 'abc'
    pairs = [make_sample(12, 4, [(1, 5)], seed=s, vid=f'same_{30 * s}.0_{30 * s + 30}.0')
             for s in range(3)]
    losses = compute_losses(build_tiny_model(), collate(pairs))
    assert not any(key.endswith('loss_neg') for key in losses)
    assert 'hd_local.loss_rank' in losses


def assert_same_predictions(expected, actual):
    torch.testing.assert_close(actual.pred_saliency, expected.pred_saliency,
                               atol=1e-5, rtol=0)
    for field in ('pred_instances', 'pred_instances_fusion'):
        want, got = expected.get(field), actual.get(field)
        torch.testing.assert_close(got.spans, want.spans, atol=1e-4, rtol=0)
        torch.testing.assert_close(got.scores, want.scores, atol=1e-4, rtol=0)


def test_a_sample_predicts_the_same_alone_and_in_a_batch():
    model = randomise_parameters(build_tiny_model())
    alone = make_sample(12, 4, [(2, 5)], duration=19.3, num_real_clips=10, seed=10)
    longer_video = make_sample(20, 3, [(4, 9)], seed=11)
    longer_query = make_sample(8, 11, [(1, 3)], seed=12)
    expected = predict(model, collate([alone]))[0]
    assert len(expected.pred_instances.spans) > 0
    for batch, index in (([longer_video, alone], 1), ([alone, longer_query], 0),
                         ([longer_query, longer_video, alone], 2)):
        assert_same_predictions(expected, predict(model, collate(batch))[index])


def test_prediction_format():
    model = randomise_parameters(build_tiny_model())
    pairs = [make_sample(12, 4, [(2, 5)], duration=19.3, num_real_clips=10, seed=30),
             make_sample(16, 6, [(8, 12)], seed=31),
             make_sample(4, 2, [(0, 1)], duration=5.1, num_real_clips=3, seed=32)]
    results = predict(model, collate(pairs))
    for (_, sample), result in zip(pairs, results):
        assert result.pred_saliency.shape == (sample.num_real_clips, )
        assert torch.isfinite(result.pred_saliency).all()
        for field in ('pred_instances', 'pred_instances_fusion'):
            windows, scores = result.get(field).spans, result.get(field).scores
            assert 0 < len(windows) <= 10 and windows.shape == (len(scores), 2)
            assert (windows >= 0).all() and (windows <= sample.duration + 1e-6).all()
            assert (windows[:, 1] > windows[:, 0]).all()
        # DETR windows: at most one per query
        assert len(result.pred_instances.spans) <= NUM_QUERIES
        # fused windows by decreasing score
        fused = result.pred_instances_fusion.scores
        assert (fused[:-1] >= fused[1:]).all()


def test_outputs_of_each_head():
    data = collate([make_sample(16, 5, [(1, 6)], seed=4)])
    outputs = {}
    for predict_with, extra in (('detr', ()), ('detr', ('fusion', )), ('atss', ()),
                                ('fusion', ('detr', 'atss'))):
        model = randomise_parameters(build_tiny_model(predict_with=predict_with,
                                                      extra_outputs=extra))
        result = predict(model, data)[0]
        fields = {k for k in result.keys() if k.startswith('pred_instances')}
        assert fields == {'pred_instances'} | {f'pred_instances_{n}' for n in extra}
        outputs[(predict_with, extra)] = result
        if predict_with == 'atss':
            assert 0 < len(result.pred_instances.spans) <= 10
    detr = outputs[('detr', ())].pred_instances
    torch.testing.assert_close(outputs[('detr', ('fusion', ))].pred_instances.spans, detr.spans)
    torch.testing.assert_close(outputs[('fusion', ('detr', 'atss'))].pred_instances_detr.spans,
                               detr.spans)
    torch.testing.assert_close(outputs[('fusion', ('detr', 'atss'))].pred_instances_atss.spans,
                               outputs[('atss', ())].pred_instances.spans)
    torch.testing.assert_close(outputs[('fusion', ('detr', 'atss'))].pred_instances.spans,
                               outputs[('detr', ('fusion', ))].pred_instances_fusion.spans)
    assert not torch.equal(detr.spans, outputs[('atss', ())].pred_instances.spans)


def test_invalid_output_choices():
    with pytest.raises(ValueError, match='unknown output'):
        build_tiny_model(predict_with='wbf')
    with pytest.raises(ValueError, match='needs the heads'):
        build_tiny_model(atss_head=None, predict_with='atss', extra_outputs=())
    with pytest.raises(ValueError, match='needs the heads'):
        build_tiny_model(atss_head=None)  # the demo config evaluates 'fusion' too


def test_without_atss_head_and_without_global_saliency():
    model = build_tiny_model(atss_head=None, extra_outputs=(),
                             encoder__global_saliency=dict(enabled=False))
    losses = compute_losses(model, training_batch())
    assert not any(k.startswith(('atss', 'collab', 'hd_global')) for k in losses)
    assert 'd0.loss_iou' in losses and 'hd_local.loss_neg' in losses
    model = randomise_parameters(model)
    data = training_batch()
    result = predict(model, data)[0]
    assert 0 < len(result.pred_instances.spans) <= NUM_QUERIES
    model.eval()
    with torch.no_grad():
        enc = model(**model.data_preprocessor(data, False), mode='tensor')
    assert enc.saliency_global is None
    torch.testing.assert_close(result.pred_saliency, enc.saliency_local[0, :12])


def test_tensor_mode_returns_the_encoder_and_the_pyramid():
    model = build_tiny_model().eval()
    data = training_batch()
    with torch.no_grad():
        enc = model(**model.data_preprocessor(data, False), mode='tensor')
    assert enc.memory.shape == (3, 16, 32)
    assert [lvl.shape[1] for lvl in enc.levels] == [32, 16, 8, 4]
    with pytest.raises(ValueError, match='unknown mode'):
        model(**model.data_preprocessor(data, False), mode='train')


def test_features_of_other_dims_are_rejected_by_name():
    model = build_tiny_model()
    wrong_video = collate([make_sample(8, 4, [(2, 5)], video_dim=VIDEO_DIM + 2)])
    with pytest.raises(ValueError, match=rf'video.*dim {VIDEO_DIM + 2}.*video_dim'):
        predict(model, wrong_video)
    wrong_text = collate([make_sample(8, 4, [(2, 5)], text_dim=TEXT_DIM + 1)])
    with pytest.raises(ValueError, match=rf'text.*dim {TEXT_DIM + 1}.*text_dim'):
        compute_losses(model, wrong_text)


def test_windows_are_seconds_on_the_timeline():
    model = randomise_parameters(build_tiny_model(
        postprocess=dict(round_to=0, min_length=0)))
    inputs, sample = make_sample(12, 5, [(3, 7)], seed=40)
    one_second = make_sample(12, 5, [(3, 7)], seed=40, clip_len=1.0)[1]
    two = predict(model, collate([(inputs, sample)]))[0].pred_instances
    one = predict(model, collate([(inputs, one_second)]))[0].pred_instances
    torch.testing.assert_close(two.spans, 2 * one.spans, atol=1e-4, rtol=1e-5)
    assert two.spans.max() > 1.0 and CLIP_LEN == 2.0
    assert isinstance(model, SGDETR)
