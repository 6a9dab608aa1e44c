"""Whole-model behaviour of SGDETR at tiny sizes.

The model is built from the package's own model config
(``configs/_base_/models/sgdetr.py``) shrunk to a few thousand parameters,
and fed hand-made batches in the documented batch format, through its data
preprocessor, so every test exercises the path a real run takes.
"""
import copy
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint
from mmengine.structures import InstanceData

from sgdetr.datasets import DataError
from sgdetr.datasets.synthetic import make_synthetic_dataset
from sgdetr.registry import DATASETS, MODELS
from sgdetr.structures import MomentDataSample

REPO = Path(__file__).parents[2]
MODEL_CONFIG = REPO / 'configs' / '_base_' / 'models' / 'sgdetr.py'
ABLATION_CONFIGS = sorted((REPO / 'configs' / 'ablation').glob('*.py'))

FEATURE_DIM = 16
HIDDEN = 32
NUM_QUERIES = 5
CLIP_LEN = 2.0
NUM_ANNOTATORS = 3

# Parameters whose gradient is exactly zero in the first optimisation step,
# by construction, and why.  Anything else without a gradient is a bug.
#
# * Attention pooling starts as mean pooling: its query projection is zero,
#   so every attention logit is 0 whatever the keys are; the key projections
#   get a gradient once the query has moved (step 2).
# * A pooling round's output does not depend on its input estimate while its
#   query projection is zero, so the rounds before the last learn one step
#   after the round that follows them (the first of two rounds' query in
#   step 2, its key in step 3).
# * Span regression MLPs (proposal selector, every decoder layer) end in a
#   zero Linear so that the first spans are the references; the hidden layers
#   behind it get a gradient once it has moved (step 2).
ZERO_GRADIENT_IN_FIRST_STEP = [
    r'encoder\.pooling_encoder\.layers\.\d+\.key\.(weight|bias)',
    r'encoder\.pooling_encoder\.layers\.0\.query\.(weight|bias)',
    r'detr_head\.query_selector\.span_branch\.layers\.[01]\.(weight|bias)',
    r'detr_head\.decoder\.span_branches\.\d+\.layers\.[01]\.(weight|bias)',
]
#: steps after which every parameter has had a gradient (see above)
STEPS_TO_REACH_EVERY_PARAMETER = 3


@pytest.fixture(scope='module', autouse=True)
def sgdetr_scope():
    init_default_scope('sgdetr')


def tiny_model_cfg(model_cfg=None, video_dim=FEATURE_DIM, text_dim=FEATURE_DIM,
                   **overrides) -> Config:
    """The model config shrunk to tiny sizes; ``overrides`` are merged last
    (a None value removes a component, as in the ablation configs)."""
    model = copy.deepcopy(model_cfg if model_cfg is not None else
                          Config.fromfile(MODEL_CONFIG).model)
    cfg = Config(dict(model=model))
    cfg.merge_from_dict(dict(model=dict(
        encoder=dict(
            video_dim=video_dim, text_dim=text_dim, embed_dims=HIDDEN,
            pooling_encoder=dict(key_dims=16, num_heads=2),
            cross_encoder=dict(num_heads=2, feedforward_dims=64),
            context_encoder=dict(num_layers=2, num_heads=2, feedforward_dims=64)),
        detr_head=dict(hidden_dim=HIDDEN, num_heads=2, ffn_dim=64,
                       num_queries=NUM_QUERIES, num_decoder_layers=2),
        **({} if model.get('atss_head') is None else dict(atss_head=dict(
            in_channels=HIDDEN, feat_channels=HIDDEN, num_groups=4,
            anchor_widths=(1, 2, 4, 8), max_positive_queries=8,
            num_predictions=10))))))
    if model.detr_head.get('denoising'):
        cfg.merge_from_dict(dict(model=dict(detr_head=dict(
            denoising=dict(num_groups=2)))))
    cfg.merge_from_dict(dict(model=overrides))
    return cfg.model


def build_model(model_cfg=None, seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(model_cfg if model_cfg is not None else
                        tiny_model_cfg(**kwargs))


def make_sample(num_clips, num_tokens, windows, duration=None, seed=0,
                clip_len=CLIP_LEN, video_dim=FEATURE_DIM, text_dim=FEATURE_DIM):
    """One (inputs, data sample) pair in the dataset's output format.

    Args:
        windows: GT windows as clip ranges ``[first, end)``.
        duration: seconds; defaults to the timeline ``num_clips * clip_len``.
    Saliency is graded, peaking mid-window, as the annotators' scores are.
    """
    generator = torch.Generator().manual_seed(seed)
    timeline = num_clips * clip_len
    sample = MomentDataSample(metainfo=dict(
        qid=seed, vid=f'v{seed}', query='q', duration=duration or timeline,
        clip_len=clip_len, num_clips=num_clips, timeline=timeline))
    spans = torch.tensor(windows, dtype=torch.float32) / num_clips
    sample.gt_instances = InstanceData(
        spans=spans, labels=torch.zeros(len(spans), dtype=torch.long))
    saliency = torch.zeros(num_clips, NUM_ANNOTATORS)
    for first, end in windows:
        position = (torch.arange(end - first) + 0.5) / (end - first)
        level = 1 + 3 * torch.sin(torch.pi * position)
        noise = torch.randint(-1, 2, (end - first, NUM_ANNOTATORS),
                              generator=generator)
        saliency[first:end] = (level[:, None].round() + noise).clamp(0, 4)
    sample.gt_saliency = saliency
    inputs = dict(
        video=torch.randn(num_clips, video_dim, generator=generator),
        text=torch.randn(num_tokens, text_dim, generator=generator),
        neg_text=torch.randn(num_tokens + 2, text_dim, generator=generator))
    return inputs, sample


def collate(pairs, with_neg_text=True):
    """``pseudo_collate`` output of dataset samples (a fresh copy each call,
    since ``predict`` writes into the data samples)."""
    keys = ('video', 'text', 'neg_text') if with_neg_text else ('video', 'text')
    return dict(inputs={key: [inputs[key] for inputs, _ in pairs] for key in keys},
                data_samples=[copy.deepcopy(sample) for _, sample in pairs])


def training_batch(seed=0, **dims):
    return collate([
        make_sample(12, 5, [(1, 4), (7, 10)], seed=seed, **dims),
        make_sample(9, 7, [(2, 6)], seed=seed + 1, **dims),
        make_sample(15, 4, [(0, 3), (5, 7), (11, 15)], seed=seed + 2, **dims),
    ])


def compute_losses(model, data):
    model.train()
    batch = model.data_preprocessor(data, True)
    return model(**batch, mode='loss')


def predict(model, data):
    model.eval()
    batch = model.data_preprocessor(data, False)
    return model(**batch, mode='predict')


def train_steps(model, data, num_steps, lr=1e-3):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(num_steps):
        optimizer.zero_grad()
        sum(compute_losses(model, data).values()).backward()
        optimizer.step()


def randomise_parameters(model, seed=0, scale=0.2):
    """Move every parameter off its initial value, zero-initialised layers
    included, so that no layer hides behind a trivial (zero) weight."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return model


def assert_same_predictions(expected, actual, atol=1e-5):
    torch.testing.assert_close(actual.pred_saliency, expected.pred_saliency,
                               atol=atol, rtol=0)
    # windows are in seconds: a tolerance of 1e-4 s is far below a clip
    torch.testing.assert_close(actual.pred_instances.spans,
                               expected.pred_instances.spans, atol=1e-4, rtol=0)
    torch.testing.assert_close(actual.pred_instances.scores,
                               expected.pred_instances.scores, atol=atol, rtol=0)


# -- gradients ---------------------------------------------------------------
@pytest.mark.parametrize('text_dim', [FEATURE_DIM, 12],
                         ids=['raw-saliency-space', 'projected-saliency-space'])
def test_optimisation_reaches_every_trainable_parameter(text_dim):
    model = build_model(text_dim=text_dim)
    data = training_batch(text_dim=text_dim)
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW(trainable.values(), lr=1e-3)
    first_gradient_step = {}
    for step in range(1, STEPS_TO_REACH_EVERY_PARAMETER + 1):
        optimizer.zero_grad(set_to_none=True)
        losses = compute_losses(model, data)
        assert all(torch.isfinite(v) for v in losses.values()), losses
        sum(losses.values()).backward()
        for name, parameter in trainable.items():
            # None would mean the parameter is not connected to the loss.
            assert parameter.grad is not None, f'{name}: no gradient (step {step})'
            assert torch.isfinite(parameter.grad).all(), f'{name}: non-finite gradient'
            if parameter.grad.abs().sum() > 0:
                first_gradient_step.setdefault(name, step)
        if step == 1:
            zero_in_first_step = sorted(set(trainable) - set(first_gradient_step))
            expected = sorted(name for name in trainable if any(
                re.fullmatch(pattern, name) for pattern in ZERO_GRADIENT_IN_FIRST_STEP))
            assert zero_in_first_step == expected
        optimizer.step()
    never = sorted(set(trainable) - set(first_gradient_step))
    assert not never, f'never got a gradient: {never}'


# -- padding -------------------------------------------------------------------
@pytest.mark.parametrize('padding', ['longer-video', 'longer-query', 'both'])
def test_padding_does_not_change_real_outputs(padding):
    model = randomise_parameters(build_model())
    alone = make_sample(10, 4, [(2, 5)], duration=19.3, seed=10)
    longer_video = make_sample(17, 3, [(4, 9)], seed=11)
    longer_query = make_sample(6, 11, [(1, 3)], seed=12)
    companions = dict(longer_video=[longer_video], longer_query=[longer_query],
                      both=[longer_video, longer_query])[padding.replace('-', '_')]
    expected = predict(model, collate([alone], with_neg_text=False))[0]
    in_batch = predict(model, collate([companions[0], alone] + companions[1:],
                                      with_neg_text=False))[1]
    assert in_batch.pred_saliency.shape == (10,)
    assert len(expected.pred_instances.spans) > 0
    assert_same_predictions(expected, in_batch)


# -- checkpoints ---------------------------------------------------------------
def test_trained_weights_survive_save_and_load(tmp_path):
    data = training_batch()
    trained = build_model(seed=0)
    train_steps(trained, data, num_steps=2)
    queries = collate([make_sample(11, 5, [(3, 6)], seed=20),
                       make_sample(8, 3, [(0, 2)], seed=21)], with_neg_text=False)
    expected = predict(trained, queries)

    torch.save(trained.state_dict(), tmp_path / 'weights.pth')
    # the layout the runner writes
    save_checkpoint(dict(meta=dict(epoch=1), state_dict=trained.state_dict()),
                    str(tmp_path / 'checkpoint.pth'))

    from_state_dict = build_model(seed=1)
    before_loading = predict(from_state_dict, queries)
    with pytest.raises(AssertionError):  # a fresh model predicts otherwise
        assert_same_predictions(expected[0], before_loading[0])
    from_state_dict.load_state_dict(
        torch.load(tmp_path / 'weights.pth', weights_only=True), strict=True)
    from_checkpoint = build_model(seed=2)
    load_checkpoint(from_checkpoint, str(tmp_path / 'checkpoint.pth'),
                    strict=True)
    for model in (from_state_dict, from_checkpoint):
        for want, got in zip(expected, predict(model, queries)):
            assert_same_predictions(want, got, atol=0)


# -- ablation switches ---------------------------------------------------------
def loss_groups(losses):
    """Loss names without the decoder layer index: 'atss.d0.loss_cls' ->
    'atss.loss_cls'."""
    return {re.sub(r'(^|\.)d\d+\.', r'\1', key) for key in losses}


def check_loss_and_predict(model):
    losses = compute_losses(model, training_batch())
    # untrained, on random features: no term can be exactly 0, and one that is
    # has lost its inputs (e.g. an empty query group)
    assert all(torch.isfinite(v) and v > 0 for v in losses.values()), losses
    sum(losses.values()).backward()
    results = predict(model, collate([make_sample(10, 4, [(2, 5)], seed=5)]))
    assert 0 < len(results[0].pred_instances.spans) <= 10
    return losses


def test_full_model_losses():
    losses = check_loss_and_predict(build_model())
    groups = loss_groups(losses)
    # hybrid detector: dense ATSS losses and the ATSS query group in the decoder
    assert {'atss.loss_cls', 'atss.loss_l1', 'atss.loss_giou',
            'atss.loss_centerness'} <= groups
    for prefix in ('', 'enc.', 'dn.', 'atss.'):
        assert {prefix + 'loss_cls', prefix + 'loss_span_l1',
                prefix + 'loss_giou'} <= groups
    for prefix in ('', 'dn.', 'atss.'):  # encoder proposals have no IoU head
        assert prefix + 'loss_iou' in groups
    assert 'enc.loss_iou' not in groups
    assert {'loss_align', 'loss_moment_clip', 'loss_hd_rank_local',
            'loss_hd_rank_global', 'loss_hd_bce_neg_global'} <= groups


def test_without_atss_head():
    model = build_model(atss_head=None, fusion=None)
    assert model.atss_head is None and model.fusion is None
    losses = check_loss_and_predict(model)
    assert not [key for key in losses if key.startswith('atss.')]
    assert 'dn.d0.loss_cls' in losses and 'd1.loss_iou' in losses
    # DETR spans only: never more windows than matching queries
    results = predict(model, collate([make_sample(12, 4, [(2, 5)])]))
    assert len(results[0].pred_instances.spans) <= NUM_QUERIES


def test_atss_head_without_fusion_only_trains():
    model = build_model(fusion=None)
    assert model.atss_head is not None and model.fusion is None
    losses = check_loss_and_predict(model)
    assert 'atss.loss_cls' in losses and 'atss.d0.loss_cls' in losses
    results = predict(model, collate([make_sample(12, 4, [(2, 5)])]))
    assert len(results[0].pred_instances.spans) <= NUM_QUERIES


def test_without_iou_head():
    model = build_model(detr_head=dict(with_iou_head=False))
    assert model.detr_head.iou_branches is None
    losses = check_loss_and_predict(model)
    assert not [key for key in losses if key.endswith('loss_iou')]
    assert 'atss.loss_cls' in losses and 'd0.loss_giou' in losses


def test_without_denoising_groups():
    model = build_model(detr_head=dict(denoising=None))
    losses = check_loss_and_predict(model)
    assert not [key for key in losses if key.startswith('dn.')]
    assert 'atss.d0.loss_cls' in losses


def test_without_global_saliency_module():
    model = build_model(encoder=dict(global_saliency=dict(enabled=False)))
    assert not list(model.encoder.global_saliency.parameters())
    check_loss_and_predict(model)
    model.eval()
    batch = model.data_preprocessor(training_batch(), False)
    encoded = model(**batch, mode='tensor')
    # the highlight output is then the local saliency itself
    torch.testing.assert_close(encoded['saliency_global'], encoded['saliency_local'],
                               atol=0, rtol=0)


def test_without_saliency_guided_cross_attention():
    model = randomise_parameters(
        build_model(encoder=dict(cross_encoder=dict(saliency_guided=False))))
    check_loss_and_predict(model)
    guided = randomise_parameters(build_model())

    def cross_attention_output(model, saliency):
        model.eval()
        inputs = model.data_preprocessor(training_batch(), False)['inputs']
        encoder = model.encoder
        video = encoder.video_proj(inputs['video'])
        position = encoder.positional_encoding(inputs['video_mask'])
        return encoder.cross_encoder(video, position, inputs['video_mask'],
                                     encoder.text_proj(inputs['text']),
                                     inputs['text_mask'], saliency)

    videos = training_batch()['inputs']['video']
    low = torch.full((len(videos), max(len(video) for video in videos)), -3.0)
    high = torch.full_like(low, 3.0)
    with torch.no_grad():
        # plain cross attention ignores the saliency; SGCA does not
        torch.testing.assert_close(cross_attention_output(model, low),
                                   cross_attention_output(model, high))
        assert not torch.allclose(cross_attention_output(guided, low),
                                  cross_attention_output(guided, high))


@pytest.mark.parametrize('config', ABLATION_CONFIGS, ids=lambda p: p.stem)
def test_ablation_configs_build_and_run(config):
    model_cfg = Config.fromfile(config).model
    model = build_model(tiny_model_cfg(model_cfg))
    losses = check_loss_and_predict(model)
    has_atss = model_cfg.get('atss_head') is not None
    assert any(key.startswith('atss.') for key in losses) == has_atss
    assert any(key.endswith('loss_iou') for key in losses) == \
        model_cfg.detr_head.with_iou_head
    encoder_cfg = model_cfg.encoder
    assert all(layer.cross_attn.saliency_guided == encoder_cfg.cross_encoder.saliency_guided
               for layer in model.encoder.cross_encoder.layers)
    assert model.encoder.global_saliency.enabled == encoder_cfg.global_saliency.enabled


# -- predictions ---------------------------------------------------------------
def test_prediction_format():
    model = randomise_parameters(build_model())
    pairs = [make_sample(10, 4, [(2, 5)], duration=19.3, seed=30),
             make_sample(16, 6, [(8, 12)], seed=31),
             make_sample(3, 2, [(0, 1)], duration=5.1, seed=32)]
    results = predict(model, collate(pairs, with_neg_text=False))
    for (_, sample), result in zip(pairs, results):
        windows = result.pred_instances.spans
        scores = result.pred_instances.scores
        assert result.pred_saliency.shape == (sample.num_clips,)
        assert torch.isfinite(result.pred_saliency).all()
        assert 0 < len(windows) <= 10 and windows.shape == (len(scores), 2)
        assert (windows >= 0).all() and (windows <= sample.duration).all()
        assert (windows[:, 1] > windows[:, 0]).all()
        assert (scores[:-1] >= scores[1:]).all()


def test_windows_are_seconds_on_the_timeline():
    model = randomise_parameters(build_model())
    inputs, sample = make_sample(12, 5, [(3, 7)], seed=40)
    one_second_clips = copy.deepcopy(sample)
    one_second_clips.set_metainfo(dict(clip_len=1.0, timeline=12.0, duration=12.0))
    two_seconds = predict(model, collate([(inputs, sample)]))[0].pred_instances
    one_second = predict(model, collate([(inputs, one_second_clips)]))[0].pred_instances
    torch.testing.assert_close(two_seconds.spans, 2 * one_second.spans)
    assert two_seconds.spans.max() > 1.0  # not normalised spans


def test_max_windows_is_respected():
    model = randomise_parameters(build_model(max_windows=3))
    results = predict(model, collate([make_sample(20, 5, [(3, 7)], seed=50)]))
    assert len(results[0].pred_instances.spans) == 3


# -- feature dims --------------------------------------------------------------
@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic_dims')
    make_synthetic_dataset(str(root), num_train=3, num_val=3, num_test=1,
                           dim=FEATURE_DIM, num_topics=2, nuisance_dim=3,
                           min_clips=8, max_clips=12, min_tokens=3, max_tokens=5,
                           seed=0, verbose=False)
    return root


def demo_val_dataset_cfg(root, **dims):
    """The val dataset of the demo config (whose model expects 256-d
    features) pointed at ``root``."""
    dataset = Config.fromfile(REPO / 'configs' / 'sgdetr_demo.py').val_dataloader.dataset
    dataset.update(data_root=str(root) + '/', cache_features=False, **dims)
    return dataset


def first_annotation(root):
    import json
    with open(root / 'annotations' / 'highlight_val_release.jsonl') as handle:
        return json.loads(handle.readline())


def test_video_dim_mismatch_fails_at_start_up_naming_the_file(synthetic_root):
    with pytest.raises(DataError) as error:
        DATASETS.build(demo_val_dataset_cfg(synthetic_root))
    video_file = synthetic_root / 'features' / 'video' / (
        first_annotation(synthetic_root)['vid'] + '.npz')
    assert str(video_file) in str(error.value)
    assert f'video feature dim {FEATURE_DIM}' in str(error.value)
    assert '`video_dim`=256' in str(error.value)


def test_text_dim_mismatch_fails_at_start_up_naming_the_file(synthetic_root):
    with pytest.raises(DataError) as error:
        DATASETS.build(demo_val_dataset_cfg(synthetic_root, video_dim=FEATURE_DIM))
    text_file = synthetic_root / 'features' / 'text' / (
        f'qid{first_annotation(synthetic_root)["qid"]}.npz')
    assert str(text_file) in str(error.value)
    assert f'text feature dim {FEATURE_DIM}' in str(error.value)


def test_matching_dims_build(synthetic_root):
    dataset = DATASETS.build(demo_val_dataset_cfg(
        synthetic_root, video_dim=FEATURE_DIM, text_dim=FEATURE_DIM))
    sample = dataset[0]
    assert sample['inputs']['video'].shape[1] == FEATURE_DIM


def test_model_rejects_features_of_other_dims_by_name():
    model = build_model(video_dim=24)
    with pytest.raises(ValueError, match=r'video.*dim 16.*video_dim=24'):
        predict(model, collate([make_sample(10, 4, [(2, 5)])]))
    model = build_model(text_dim=12)
    with pytest.raises(ValueError, match=r'text.*dim 16.*text_dim=12'):
        compute_losses(model, collate([make_sample(10, 4, [(2, 5)])]))


def test_no_double_highlight_loss_without_global_module():
    model = build_model(encoder=dict(global_saliency=dict(enabled=False)))
    keys = set(compute_losses(model, training_batch()))
    assert any(k.endswith('_local') for k in keys)
    assert not any(k.startswith('loss_hd') and k.endswith('_global') for k in keys)


def test_highlight_only_samples_take_positives_from_their_labels():
    """TVSum / YouTube-HL carry no windows: their positive clips for the BCE
    term are the clips with a positive label, not none at all."""
    model = build_model(atss_head=None, fusion=None)
    inputs, sample = make_sample(10, 5, [(3, 7)], seed=3)
    labelled = copy.deepcopy(sample)
    labelled.gt_instances = InstanceData(spans=torch.zeros(0, 2),
                                         labels=torch.zeros(0, dtype=torch.long))
    torch.manual_seed(0)
    with_labels = compute_losses(model, collate([(inputs, labelled)]))
    sample.gt_saliency = torch.zeros_like(sample.gt_saliency)
    sample.gt_instances = labelled.gt_instances
    torch.manual_seed(0)
    no_positive = compute_losses(model, collate([(inputs, sample)]))
    assert not torch.isclose(with_labels['loss_hd_bce_pos_local'],
                             no_positive['loss_hd_bce_pos_local'])


def test_predictions_of_each_head():
    model = build_model()
    randomise_parameters(model)
    data = collate([make_sample(12, 5, [(1, 4)], seed=4)], with_neg_text=False)
    outputs = {}
    for source in ('fusion', 'detr', 'atss'):
        model.predict_with = source
        outputs[source] = predict(model, data)[0].pred_instances
    assert not torch.equal(outputs['detr'].spans, outputs['atss'].spans)
    with pytest.raises(ValueError, match='needs an atss_head'):
        build_model(atss_head=None, fusion=None, predict_with='atss')
