"""LocalSaliencyHead and the zero-shot behaviour of the raw saliency space."""
import math

import torch
from torch.nn import functional as F

from sgdetr.models.encoders import SALIENCY_PADDING_VALUE, LocalSaliencyHead
from sgdetr.registry import MODELS


def test_hand_computed_scores():
    head = LocalSaliencyHead(alpha_init=2.0, beta_init=-1.0)
    sentence = torch.tensor([[1., 0.]])
    clips = torch.tensor([[[3., 0.], [0., 5.], [-1., 1.], [7., 7.]]])
    mask = torch.tensor([[True, True, True, False]])
    s = head(sentence, clips, mask)
    expected = torch.tensor([[2 * 1 - 1, 2 * 0 - 1, 2 * (-1 / math.sqrt(2)) - 1,
                              SALIENCY_PADDING_VALUE]])
    assert torch.allclose(s, expected, atol=1e-6)


def test_scale_stays_positive_and_gradients_flow():
    head = LocalSaliencyHead(alpha_init=0.5)
    assert head.log_alpha.exp().item() > 0
    s = head(torch.randn(2, 3), torch.randn(2, 4, 3), torch.ones(2, 4, dtype=torch.bool))
    s.sum().backward()
    assert head.log_alpha.grad is not None and head.beta.grad is not None


def _encoder(video_dim, text_dim, **kw):
    return MODELS.build(dict(
        type='SaliencyGuidedEncoder', video_dim=video_dim, text_dim=text_dim, embed_dims=16,
        pooling_encoder=dict(key_dims=8, num_heads=2),
        cross_encoder=dict(num_heads=2, feedforward_dims=32),
        context_encoder=dict(num_layers=1, num_heads=2, feedforward_dims=32), **kw)).eval()


def test_raw_space_untrained_equals_zero_shot_cosine():
    torch.manual_seed(0)
    enc = _encoder(8, 8)
    assert enc.saliency_space == 'raw'
    video, text = torch.randn(2, 5, 8), torch.randn(2, 3, 8)
    vmask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    tmask = torch.tensor([[True] * 3, [True, True, False]])
    out = enc(video, vmask, text, tmask)
    sentence = torch.stack((text[0].mean(0), text[1, :2].mean(0)))
    cosine = F.cosine_similarity(sentence[:, None], video, dim=-1)
    expected = (10.0 * cosine).masked_fill(~vmask, SALIENCY_PADDING_VALUE)
    assert torch.allclose(out['saliency_local'], expected, atol=1e-4)
    # the global module starts as the identity on the scores
    assert torch.allclose(out['saliency_global'], out['saliency_local'])
    assert torch.equal(out['clip_embed'], video)


def test_space_selection():
    assert _encoder(8, 6).saliency_space == 'projected'
    assert _encoder(8, 8, saliency_space='projected').saliency_space == 'projected'
    try:
        _encoder(8, 6, saliency_space='raw')
    except AssertionError:
        pass
    else:
        raise AssertionError('raw space needs equal dims')
    out = _encoder(8, 6)(torch.randn(1, 4, 8), torch.ones(1, 4, dtype=torch.bool),
                        torch.randn(1, 3, 6), torch.ones(1, 3, dtype=torch.bool))
    assert out['sentence'].shape == (1, 16) and out['clip_embed'].shape == (1, 4, 16)
