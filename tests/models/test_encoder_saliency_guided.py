"""SaliencyGuidedEncoder end to end on tiny inputs."""
import pytest
import torch

from sgdetr.models.encoders import SALIENCY_PADDING_VALUE
from sgdetr.registry import MODELS

H = 16


def _encoder(video_dim=8, text_dim=8, **kw):
    torch.manual_seed(0)
    cfg = dict(type='SaliencyGuidedEncoder', video_dim=video_dim, text_dim=text_dim,
               embed_dims=H, pooling_encoder=dict(key_dims=8, num_heads=2),
               cross_encoder=dict(num_heads=2, feedforward_dims=32),
               context_encoder=dict(num_heads=2, feedforward_dims=32))
    for name, sub in kw.items():
        cfg[name] = {**cfg.get(name, {}), **sub} if isinstance(sub, dict) else sub
    return MODELS.build(cfg)


def _batch(video_dim=8, text_dim=8):
    torch.manual_seed(1)
    video, text = torch.randn(2, 5, video_dim), torch.randn(2, 4, text_dim)
    vmask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    tmask = torch.tensor([[True] * 4, [True] * 2 + [False] * 2])
    return video, vmask, text, tmask


def _perturb(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)


@pytest.mark.parametrize('dims', [(8, 8), (8, 6)])
def test_output_keys_shapes_and_padding_values(dims):
    enc = _encoder(*dims).eval()
    out = enc(*_batch(*dims))
    D = 8 if enc.saliency_space == 'raw' else H
    shapes = dict(memory=(2, 5, H), memory_pos=(2, 5, H), memory_mask=(2, 5),
                  context=(2, 5, H), saliency_local=(2, 5), saliency_global=(2, 5),
                  sentence=(2, D), clip_embed=(2, 5, D))
    assert {k: tuple(v.shape) for k, v in out.items()} == shapes
    assert out['memory_mask'].dtype == torch.bool
    for key in ('memory', 'memory_pos', 'context'):
        assert out[key][1, 3:].abs().sum() == 0
    for key in ('saliency_local', 'saliency_global'):
        assert (out[key][1, 3:] == SALIENCY_PADDING_VALUE).all()
        assert torch.isfinite(out[key]).all()


@pytest.mark.parametrize('space', ['raw', 'projected'])
def test_padding_never_changes_real_outputs(space):
    enc = _encoder(saliency_space=space).eval()
    _perturb(enc)
    video, vmask, text, tmask = _batch()
    out = enc(video, vmask, text, tmask)
    # sample 1 alone, cropped to its real tokens
    alone = enc(video[1:, :3], vmask[1:, :3], text[1:, :2], tmask[1:, :2])
    for key in ('memory', 'memory_pos', 'context', 'saliency_local', 'saliency_global',
                'clip_embed'):
        assert torch.allclose(out[key][1:, :3], alone[key], atol=1e-4), key
    assert torch.allclose(out['sentence'][1:], alone['sentence'], atol=1e-5)
    # garbage in the padding changes nothing either
    video2, text2 = video.clone(), text.clone()
    video2[1, 3:], text2[1, 2:] = 1e3, -1e3
    out2 = enc(video2, vmask, text2, tmask)
    assert torch.allclose(out2['memory'], out['memory'], atol=1e-4)


@pytest.mark.parametrize('space', ['raw', 'projected'])
def test_gradients_reach_every_parameter(space):
    enc = _encoder(saliency_space=space).train()
    _perturb(enc)  # zero-initialised layers would zero their partners' gradients
    out = enc(*_batch())
    loss = out['memory'].pow(2).mean() + out['saliency_global'][out['memory_mask']].sum() \
        + out['sentence'].sum()
    loss.backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_ablation_switches():
    enc = _encoder(cross_encoder=dict(saliency_guided=False),
                   global_saliency=dict(enabled=False)).eval()
    assert not enc.cross_encoder.layers[0].cross_attn.saliency_guided
    out = enc(*_batch())
    assert torch.equal(out['saliency_global'], out['saliency_local'])
    assert torch.equal(out['memory'], out['context'])
    # without guidance the local saliency does not reach the memory
    with torch.no_grad():
        enc.local_saliency.beta.fill_(5.)
    assert torch.allclose(enc(*_batch())['memory'], out['memory'], atol=1e-6)


def test_saliency_guidance_reaches_the_memory():
    enc = _encoder(global_saliency=dict(enabled=False)).eval()
    before = enc(*_batch())['memory']
    with torch.no_grad():
        enc.local_saliency.beta.fill_(5.)
    assert not torch.allclose(enc(*_batch())['memory'], before)


def test_forward_saliency_cheap_and_full_paths():
    enc = _encoder(saliency_space='projected').eval()
    _perturb(enc)
    batch = _batch()
    full = enc(*batch)
    cheap = enc.forward_saliency(*batch, with_global=False)
    assert set(cheap) == {'saliency_local'}
    assert torch.allclose(cheap['saliency_local'], full['saliency_local'], atol=1e-6)
    both = enc.forward_saliency(*batch)
    assert torch.allclose(both['saliency_global'], full['saliency_global'], atol=1e-6)


def test_unknown_submodule_is_rejected():
    with pytest.raises(TypeError):
        _encoder(decoder=dict())


def test_submodule_of_another_type_is_not_merged_with_defaults():
    enc = _encoder(global_saliency=dict(type='GlobalSaliencyModule', enabled=False),
                   context_encoder=dict(num_layers=0))
    assert not enc.global_saliency.enabled and len(enc.context_encoder.layers) == 0
    from sgdetr.models.encoders.saliency_guided_encoder import _merge
    assert _merge(dict(type='A', x=1), dict(type='B', y=2)) == dict(type='B', y=2)
    assert _merge(dict(type='A', x=1), dict(y=2)) == dict(type='A', x=1, y=2)
