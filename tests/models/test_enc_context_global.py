"""VideoContextEncoder and GlobalSaliencyModule."""
import torch

from sgdetr.models.encoders import SALIENCY_PADDING_VALUE, GlobalSaliencyModule
from sgdetr.registry import MODELS


def test_context_encoder_padding_invariance():
    torch.manual_seed(0)
    enc = MODELS.build(dict(type='VideoContextEncoder', num_layers=2, embed_dims=8,
                            num_heads=2, feedforward_dims=16)).eval()
    video, pos = torch.randn(1, 3, 8), torch.randn(1, 3, 8)
    base = enc(video, pos, torch.ones(1, 3, dtype=torch.bool))
    out = enc(torch.cat((video, 100 * torch.randn(1, 2, 8)), 1),
              torch.cat((pos, torch.randn(1, 2, 8)), 1),
              torch.tensor([[True] * 3 + [False] * 2]))
    assert torch.allclose(out[:, :3], base, atol=1e-5)
    assert out[:, 3:].abs().sum() == 0


def test_context_encoder_mixes_clips():
    torch.manual_seed(0)
    enc = MODELS.build(dict(type='VideoContextEncoder', num_layers=1, embed_dims=8,
                            num_heads=2, feedforward_dims=16)).eval()
    video, pos = torch.randn(1, 3, 8), torch.randn(1, 3, 8)
    mask = torch.ones(1, 3, dtype=torch.bool)
    changed = video.clone()
    changed[0, 2] += 1
    assert not torch.allclose(enc(video, pos, mask)[0, 0], enc(changed, pos, mask)[0, 0])


def test_global_saliency_hand_computed():
    gsm = MODELS.build(dict(type='GlobalSaliencyModule', embed_dims=2))
    with torch.no_grad():
        gsm.offset.weight.copy_(torch.tensor([[1., -1.]]))
        gsm.offset.bias.fill_(0.5)
    feats = torch.tensor([[[1., 2.], [3., 0.]]])
    s_local = torch.tensor([[0., 1.]])
    mask = torch.tensor([[True, False]])
    f_g, s_g = gsm(feats, s_local, mask)
    # clip 0: F_l = F * (1 + sigmoid(0)) = [1.5, 3]; offset = 1.5 - 3 + 0.5 = -1
    assert torch.allclose(s_g, torch.tensor([[-1., SALIENCY_PADDING_VALUE]]))
    expected = feats[0, 0] * (1 + torch.sigmoid(torch.tensor(-1.)))
    assert torch.allclose(f_g[0, 0], expected) and f_g[0, 1].abs().sum() == 0


def test_global_saliency_switched_off():
    feats, s_local = torch.randn(2, 3, 4), torch.randn(2, 3)
    mask = torch.ones(2, 3, dtype=torch.bool)
    off = GlobalSaliencyModule(4, enabled=False)
    assert len(list(off.parameters())) == 0
    f_g, s_g = off(feats, s_local, mask)
    assert torch.equal(f_g, feats) and torch.equal(s_g, s_local)
    f_g, _ = GlobalSaliencyModule(4, enabled=False, amplify_when_disabled=True)(
        feats, s_local, mask)
    assert torch.allclose(f_g, feats * (1 + s_local.sigmoid()[..., None]))


def test_global_saliency_starts_as_identity_and_learns():
    gsm = GlobalSaliencyModule(4)
    feats = torch.randn(2, 3, 4, requires_grad=True)
    s_local = torch.randn(2, 3)
    _, s_g = gsm(feats, s_local, torch.ones(2, 3, dtype=torch.bool))
    assert torch.equal(s_g, s_local)
    s_g.sum().backward()
    assert gsm.offset.weight.grad.abs().sum() > 0 and gsm.offset.bias.grad.abs().sum() > 0
