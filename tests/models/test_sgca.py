"""SaliencyGuidedCrossAttention and its encoder."""
import torch
from torch import nn

from sgdetr.models.encoders import SaliencyGuidedCrossAttention
from sgdetr.registry import MODELS


def _identity_attention(dims, saliency_guided=True):
    attn = SaliencyGuidedCrossAttention(dims, num_heads=1, saliency_guided=saliency_guided)
    with torch.no_grad():
        for proj in (attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj):
            proj.weight.copy_(torch.eye(dims))
            proj.bias.zero_()
    return attn


def test_hand_made_case_scales_row_i_by_sigmoid_of_clip_i():
    attn = _identity_attention(2)
    video = torch.tensor([[[1., 0.], [0., 2.], [1., 1.]]])  # L = 3 clips
    text = torch.tensor([[[2., 0.], [0., 1.], [9., 9.]]])  # N = 3, last padded
    text_mask = torch.tensor([[True, True, False]])
    saliency = torch.tensor([[0., 2., -1.]])
    logits = video[0] @ text[0, :2].T / 2**0.5  # (3, 2)
    expected_w = logits.softmax(-1) * torch.sigmoid(saliency[0])[:, None]
    w = attn.attention_weights(video, text, text_mask, saliency)
    assert w.shape == (1, 1, 3, 3)
    assert torch.allclose(w[0, 0, :, :2], expected_w, atol=1e-6)
    assert w[0, 0, :, 2].abs().sum() == 0
    out = attn(video, text, text, text_mask, saliency)
    assert torch.allclose(out[0], expected_w @ text[0, :2], atol=1e-6)


def test_unguided_equals_torch_multihead_attention():
    torch.manual_seed(0)
    dims, heads = 8, 2
    ours = SaliencyGuidedCrossAttention(dims, heads, saliency_guided=False).eval()
    ref = nn.MultiheadAttention(dims, heads, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight,
                                            ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias,
                                          ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    q, kv = torch.randn(2, 4, dims), torch.randn(2, 3, dims)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    saliency = torch.randn(2, 4)  # ignored
    expected = ref(q, kv, kv, key_padding_mask=~mask)[0]
    assert torch.allclose(ours(q, kv, kv, mask, saliency), expected, atol=1e-5)


def test_padded_text_changes_nothing_and_empty_text_gives_zeros():
    torch.manual_seed(0)
    attn = SaliencyGuidedCrossAttention(8, 2).eval()
    q, kv = torch.randn(1, 4, 8), torch.randn(1, 2, 8)
    saliency = torch.randn(1, 4)
    base = attn(q, kv, kv, torch.ones(1, 2, dtype=torch.bool), saliency)
    padded_kv = torch.cat((kv, 100 * torch.randn(1, 3, 8)), 1)
    mask = torch.tensor([[True, True, False, False, False]])
    assert torch.allclose(attn(q, padded_kv, padded_kv, mask, saliency), base, atol=1e-5)
    none = attn.attention_weights(q, kv, torch.zeros(1, 2, dtype=torch.bool), saliency)
    assert torch.isfinite(none).all() and none.abs().sum() == 0


def _encoder(**kw):
    return MODELS.build(dict(type='SaliencyGuidedCrossAttentionEncoder', num_layers=2,
                             embed_dims=8, num_heads=2, feedforward_dims=16, **kw)).eval()


def test_encoder_padding_invariance_and_zero_padding():
    torch.manual_seed(0)
    enc = _encoder()
    video, pos, text = torch.randn(1, 3, 8), torch.randn(1, 3, 8), torch.randn(1, 2, 8)
    saliency = torch.randn(1, 3)
    ones = torch.ones(1, 3, dtype=torch.bool)
    base = enc(video, pos, ones, text, torch.ones(1, 2, dtype=torch.bool), saliency)
    assert base.shape == (1, 3, 8)
    pv = torch.cat((video, torch.randn(1, 2, 8)), 1)
    pp = torch.cat((pos, torch.randn(1, 2, 8)), 1)
    pt = torch.cat((text, torch.randn(1, 1, 8)), 1)
    ps = torch.cat((saliency, torch.randn(1, 2)), 1)
    vmask = torch.tensor([[True] * 3 + [False] * 2])
    out = enc(pv, pp, vmask, pt, torch.tensor([[True, True, False]]), ps)
    assert torch.allclose(out[:, :3], base, atol=1e-5)
    assert out[:, 3:].abs().sum() == 0


def test_low_saliency_clip_takes_in_little_text():
    torch.manual_seed(0)
    attn = SaliencyGuidedCrossAttention(8, 2).eval()
    q, kv = torch.randn(1, 2, 8), torch.randn(1, 3, 8)
    mask = torch.ones(1, 3, dtype=torch.bool)
    w = attn.attention_weights(q, kv, mask, torch.tensor([[-20., 20.]]))
    assert w[0, :, 0].sum() < 1e-6 and torch.allclose(w[0, :, 1].sum(-1), torch.ones(2))
    plain = _encoder(saliency_guided=False)
    assert not plain.layers[0].cross_attn.saliency_guided


def test_encoder_gradients_reach_every_parameter():
    torch.manual_seed(0)
    enc = _encoder().train()
    video = torch.randn(2, 3, 8, requires_grad=True)
    enc(video, torch.randn(2, 3, 8), torch.ones(2, 3, dtype=torch.bool),
        torch.randn(2, 2, 8), torch.ones(2, 2, dtype=torch.bool),
        torch.randn(2, 3)).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
