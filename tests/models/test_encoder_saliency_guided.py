"""SaliencyGuidedEncoder: input features -> saliency scores and the detection memory."""
import pytest
import torch

from model_test_utils import (assert_gradients_reach, fill_padding, length_mask,
                              without_drop_path)
from sgdetr.models.encoders import SALIENCY_PADDING_VALUE, EncoderOutput, SaliencyGuidedEncoder
from sgdetr.registry import MODELS

H, DV, DT = 16, 10, 8


def build(seed=0, **modules):
    torch.manual_seed(seed)
    return MODELS.build(dict(type='SaliencyGuidedEncoder', video_dim=DV, text_dim=DT,
                             embed_dims=H, **modules))


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    video_mask, text_mask = length_mask([8, 4, 6]), length_mask([3, 5, 2])
    return dict(video=torch.randn(3, 8, DV, generator=g), video_mask=video_mask,
                text=torch.randn(3, 5, DT, generator=g), text_mask=text_mask)


def test_forward_keys_and_shapes():
    encoder = build().eval()
    x = inputs()
    out = encoder(**x)
    assert isinstance(out, EncoderOutput)
    for key in ('memory', 'pos', 'context', 'video', 'scored_clips'):
        assert getattr(out, key).shape == (3, 8, H), key
    assert out.text.shape == (3, 5, H) and out.sentence.shape == (3, H)
    for key in ('saliency_local', 'saliency_global'):
        assert getattr(out, key).shape == (3, 8)
        assert (getattr(out, key)[~x['video_mask']] == SALIENCY_PADDING_VALUE).all()
        assert torch.isfinite(getattr(out, key)).all()
    # untrained GSM: the global saliency starts at the local one
    torch.testing.assert_close(out.saliency_global, out.saliency_local)


def test_sub_modules_follow_their_configs():
    encoder = build(text_to_video=dict(num_layers=3, layer=dict(saliency_guided=False)),
                    context_encoder=dict(num_layers=1), global_saliency=dict(enabled=False))
    assert len(encoder.text_to_video.layers) == 3
    assert not any(layer.saliency_guided for layer in encoder.text_to_video.layers)
    assert len(encoder.context_encoder.layers) == 1
    out = encoder.eval()(**inputs())
    assert out.saliency_global is None
    with pytest.raises(TypeError, match='unknown encoder sub-modules'):
        build(cross_encoder=dict())


def test_padding_and_batch_independence():
    encoder = build().eval()
    x = inputs()
    out = encoder(**x)
    noisy = encoder(**dict(x, video=fill_padding(x['video'], x['video_mask']),
                           text=fill_padding(x['text'], x['text_mask'], seed=7)))
    vm = x['video_mask']
    for key in ('memory', 'context', 'pos', 'saliency_local', 'saliency_global'):
        torch.testing.assert_close(getattr(noisy, key)[vm], getattr(out, key)[vm],
                                   atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(noisy.sentence, out.sentence, atol=1e-5, rtol=1e-5)
    alone = encoder(video=x['video'][1:2, :4], video_mask=vm[1:2, :4],
                    text=x['text'][1:2], text_mask=x['text_mask'][1:2])
    for key in ('memory', 'saliency_local', 'saliency_global'):
        torch.testing.assert_close(getattr(alone, key)[0], getattr(out, key)[1, :4],
                                   atol=1e-5, rtol=1e-5)


def test_negative_saliency_shapes_and_self_pairs():
    encoder = build().eval()
    x = inputs()
    out = encoder(**x)
    videos, queries = torch.tensor([0, 1, 2, 2]), torch.tensor([1, 2, 0, 2])
    neg = encoder.negative_saliency(out, x['video_mask'], x['text_mask'], videos, queries)
    assert len(neg) == 2
    for saliency in neg:
        assert saliency.shape == (4, 8)
        assert (saliency[~x['video_mask'][videos]] == SALIENCY_PADDING_VALUE).all()
    # with the modality embedding zeroed, pairing a sample with its own query
    # reproduces its forward pass (the negative pair reads the embedded clips)
    with torch.no_grad():
        encoder.modality_embed.embedding.weight.zero_()
    out = encoder(**x)
    own = torch.arange(3)
    neg = encoder.negative_saliency(out, x['video_mask'], x['text_mask'], own, own)
    for saliency, key in zip(neg, ('saliency_local', 'saliency_global')):
        torch.testing.assert_close(saliency, getattr(out, key), atol=1e-5, rtol=1e-5)
    without_gsm = build(global_saliency=dict(enabled=False)).eval()
    out = without_gsm(**x)
    neg = without_gsm.negative_saliency(out, x['video_mask'], x['text_mask'], own, own)
    assert neg[1] is None and neg[0].shape == (3, 8)


def test_gradients_reach_every_parameter():
    encoder = without_drop_path(build()).train()
    x = inputs()
    out = encoder(**x)
    vm = x['video_mask']
    neg = encoder.negative_saliency(out, vm, x['text_mask'], torch.tensor([0, 1]),
                                    torch.tensor([1, 2]))
    loss = (out.memory[vm].pow(2).sum() + out.saliency_global[vm].sum()
            + out.saliency_local[vm].sum() + neg[1][vm[:2]].sum())
    # the GSM's offset starts at zero, which stops nothing: its input has a gradient
    assert_gradients_reach(encoder, loss)
    assert isinstance(encoder, SaliencyGuidedEncoder)


def test_raw_saliency_space_scores_the_input_features():
    encoder = build(saliency_space='raw').eval()
    assert encoder.local_saliency.pooling.query.shape == (DT, )
    x = inputs()
    out = encoder(**x)
    raw_clips = x['video'][..., :DT]  # the clips without the temporal endpoints
    torch.testing.assert_close(out.scored_clips, raw_clips)
    sentence = encoder.local_saliency.pooling(x['text'], x['text_mask'])
    torch.testing.assert_close(out.sentence, sentence)
    expected = encoder.local_saliency.score(raw_clips, sentence)
    vm = x['video_mask']
    torch.testing.assert_close(out.saliency_local[vm], expected[vm])
    # the negative pairs score the raw clips too
    neg = encoder.negative_saliency(out, vm, x['text_mask'], torch.tensor([0]),
                                    torch.tensor([1]))
    expected = encoder.local_saliency.score(raw_clips[:1], sentence[1:2])
    torch.testing.assert_close(neg[0][vm[:1]], expected[vm[:1]])
    with pytest.raises(ValueError, match='saliency_space'):
        build(saliency_space='pooled')
    with pytest.raises(ValueError, match='video_dim'):
        MODELS.build(dict(type='SaliencyGuidedEncoder', video_dim=4, text_dim=DT,
                          embed_dims=H, saliency_space='raw'))
