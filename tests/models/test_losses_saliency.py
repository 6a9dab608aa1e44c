"""Highlight-detection and auxiliary losses on hand-computed tiny cases."""
import math

import pytest
import torch
from torch.nn import functional as F

from sgdetr.models.losses import (clips_in_spans, saliency_margin_ranking_loss,
                                  saliency_rank_contrastive_loss, saliency_rank_labels)
from sgdetr.registry import MODELS

PAD = -1e4


def softplus(x):
    return math.log1p(math.exp(x))


def test_margin_ranking_hand_computed():
    saliency = torch.tensor([[0.1, 0.4, 0.3, PAD], [0.0, 5.0, PAD, PAD]])
    labels = torch.tensor([[2., 0., 1., 9.], [1., 1., 0., 0.]])  # video 1: no pair
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    # pairs (0>1): .2-.1+.4=.5, (0>2): .2-.1+.3=.4, (2>1): .2-.3+.4=.3
    loss = saliency_margin_ranking_loss(saliency, labels, mask, margin=0.2)
    assert loss.item() == pytest.approx(0.4, abs=1e-6)


def test_rank_contrastive_hand_computed():
    saliency = torch.tensor([[1., 0., 2., 3.]], requires_grad=True)
    labels = torch.tensor([[2., 0., 1., 5.]])  # the padded clip's label is ignored
    mask = torch.tensor([[True, True, True, False]])
    lse = math.log(math.exp(2) + 1 + math.exp(4))  # logits / 0.5 = [2, 0, 4]
    # level 1: positives {0, 2} -> lse - 3; level 2: positive {0} -> lse - 2
    loss = saliency_rank_contrastive_loss(saliency, labels, mask, temperature=0.5)
    assert loss.item() == pytest.approx(lse - 2.5, abs=1e-5)
    loss.backward()
    assert saliency.grad[0, 3] == 0


def test_rank_contrastive_skips_levels_that_do_not_split_a_video():
    saliency = torch.tensor([[1., 2.], [0., 1.]])
    labels = torch.tensor([[1., 1.], [0., 0.]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    assert saliency_rank_contrastive_loss(saliency, labels, mask).item() == 0


def _loss(**kw):
    return MODELS.build(dict(type='SaliencyLoss', **kw))


def _case():
    saliency = torch.tensor([[0.1, 0.4, 0.3], [1.0, -1.0, PAD]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    gt = torch.tensor([[[1., 1.], [0., 0.], [0., 1.]],
                       [[0., 0.], [2., 2.], [0., 0.]]])  # (B, L, A=2)
    neg = torch.tensor([[0., 1., -3.], [2., PAD, PAD]])
    neg_mask = torch.tensor([[True, True, True], [True, False, False]])
    return saliency, mask, gt, neg, neg_mask


def test_saliency_loss_terms_hand_computed():
    saliency, mask, gt, neg, neg_mask = _case()
    out = _loss(neg_reduction='sum')(saliency, mask, gt, neg, neg_mask, name='global')
    assert set(out) == {'loss_hd_margin_global', 'loss_hd_rank_global',
                        'loss_hd_bce_pos_global', 'loss_hd_bce_neg_global'}
    labels = saliency_rank_labels(gt)
    assert torch.equal(labels, torch.tensor([[2., 0., 1.], [0., 4., 0.]]))
    # BCE on positives: targets [1, 0, 1] and [0, 1], mean over the 5 real clips
    bce_pos = (softplus(-0.1) + softplus(0.4) + softplus(-0.3) + softplus(1.0)
               + softplus(1.0)) / 5
    assert out['loss_hd_bce_pos_global'].item() == pytest.approx(bce_pos, abs=1e-5)
    # negative pairs: sum over the real clips of a video, mean over videos
    bce_neg = (softplus(0.) + softplus(1.) + softplus(-3.) + softplus(2.)) / 2
    assert out['loss_hd_bce_neg_global'].item() == pytest.approx(bce_neg, abs=1e-5)
    out_mean = _loss()(saliency, mask, gt, neg, neg_mask)  # default: mean over clips
    assert out_mean['loss_hd_bce_neg_local'].item() == pytest.approx(bce_neg * 2 / 4, abs=1e-5)
    margin = saliency_margin_ranking_loss(saliency, labels, mask, 0.2)
    assert torch.allclose(out['loss_hd_margin_global'], margin)
    # the negative pair's clips join the contrast below every clip
    rank = saliency_rank_contrastive_loss(torch.cat((saliency, neg), 1),
                                          torch.cat((labels, torch.zeros_like(labels)), 1),
                                          torch.cat((mask, neg_mask), 1), 0.5)
    assert torch.allclose(out['loss_hd_rank_global'], rank)


def test_saliency_loss_weights_and_missing_negative_pair():
    saliency, mask, gt, neg, neg_mask = _case()
    base = _loss()(saliency, mask, gt, neg, neg_mask)
    out = _loss(loss_weight=2.0, loss_weights=dict(margin=0, bce_neg=3.0))(
        saliency, mask, gt, neg, neg_mask)
    assert 'loss_hd_margin_local' not in out
    assert torch.allclose(out['loss_hd_bce_neg_local'], 6 * base['loss_hd_bce_neg_local'])
    assert torch.allclose(out['loss_hd_rank_local'], 2 * base['loss_hd_rank_local'])
    no_neg = _loss()(saliency, mask, gt)
    assert 'loss_hd_bce_neg_local' not in no_neg
    assert torch.allclose(no_neg['loss_hd_rank_local'],
                          saliency_rank_contrastive_loss(saliency, saliency_rank_labels(gt),
                                                         mask, 0.5))


def test_saliency_loss_positive_mask_and_padding_invariance():
    saliency, mask, gt, neg, neg_mask = _case()
    pos = torch.tensor([[True, False, False], [False, False, False]])
    out = _loss()(saliency, mask, gt, positive_mask=pos)
    bce = (softplus(-0.1) + softplus(0.4) + softplus(0.3) + softplus(1.0) + softplus(-1.0)) / 5
    assert out['loss_hd_bce_pos_local'].item() == pytest.approx(bce, abs=1e-5)
    # extra padding with garbage scores and labels changes no term
    pad = lambda x, v: torch.cat((x, torch.full_like(x[:, :2], v)), 1)  # noqa: E731
    padded = _loss()(pad(saliency, 7.), pad(mask, False), pad(gt, 4.), pad(neg, 7.),
                     pad(neg_mask, False))
    for key, value in _loss()(saliency, mask, gt, neg, neg_mask).items():
        assert torch.allclose(padded[key], value, atol=1e-6), key


def test_saliency_loss_gradients():
    saliency, mask, gt, neg, neg_mask = _case()
    saliency.requires_grad_(True)
    neg.requires_grad_(True)
    sum(_loss()(saliency, mask, gt, neg, neg_mask).values()).backward()
    assert saliency.grad[mask].abs().min() > 0 and saliency.grad[~mask].abs().sum() == 0
    assert neg.grad[neg_mask].abs().min() > 0 and neg.grad[~neg_mask].abs().sum() == 0


def test_alignment_loss_hand_computed():
    r = 1 / math.sqrt(2)
    sentence = torch.tensor([[2., 0.], [1., 1.]])
    clips = torch.tensor([[[1., 0.], [0., 1.], [0., 0.]],
                          [[0., 1.], [1., 1.], [5., 5.]]])
    moment = torch.tensor([[True, False, False], [True, False, True]])
    mask = torch.tensor([[True, True, False], [True, True, False]])
    out = MODELS.build(dict(type='MomentSentenceAlignmentLoss'))(sentence, clips, moment, mask)
    # row 0: m0=[1,0], n0=[0,1]; row 1: m1=[0,1], n1=[r,r]
    row0 = -1 + math.log(math.exp(1) + math.exp(r) + 1 + math.exp(r))
    row1 = -r + math.log(1 + math.exp(r) + math.exp(r) + math.exp(1))
    assert out['loss_align'].item() == pytest.approx((row0 + row1) / 2, abs=1e-5)


def test_alignment_loss_skips_videos_without_moment_or_rest():
    sentence = torch.tensor([[1., 0.], [0., 1.]])
    clips = torch.tensor([[[1., 0.], [1., 1.]], [[0., 1.], [1., 0.]]])
    moment = torch.tensor([[True, True], [False, False]])  # row 0: no rest; row 1: no moment
    mask = torch.ones(2, 2, dtype=torch.bool)
    loss = MODELS.build(dict(type='MomentSentenceAlignmentLoss', temperature=0.5))(
        sentence, clips, moment, mask)['loss_align']
    m0 = F.normalize(torch.tensor([1., 0.5]), dim=0)
    logits = torch.stack((m0 @ sentence[0], m0 @ sentence[1])) / 0.5
    assert loss.item() == pytest.approx(-logits.log_softmax(0)[0].item(), abs=1e-5)


def test_moment_clip_loss_hand_computed():
    features = torch.tensor([[[1., 0.], [0., 1.], [1., 1.], [9., 9.]],
                             [[1., 2.], [3., 4.], [5., 6.], [7., 8.]]], requires_grad=True)
    moment = torch.tensor([[True, False, False, True], [False] * 4])  # padded clip ignored
    mask = torch.tensor([[True, True, True, False], [True] * 4])
    loss = MODELS.build(dict(type='MomentClipLoss', temperature=0.5))(
        features, moment, mask)['loss_moment_clip']
    # prototype [1, 0]: cosines [1, 0, r] -> logits [2, 0, 2r]; video 1 has no moment
    expected = (softplus(-2) + softplus(0) + softplus(2 / math.sqrt(2))) / 3
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    loss.backward()
    assert features.grad[1].abs().sum() == 0 and features.grad[0, 3].abs().sum() == 0


def test_clips_in_spans():
    mask = torch.tensor([[True] * 4, [True, True, False, False], [True] * 4])
    spans = [torch.tensor([[0.25, 0.75]]), torch.tensor([[0.5, 1.0], [0.0, 0.1]]),
             torch.zeros(0, 2)]
    expected = torch.tensor([[False, True, True, False], [False, True, False, False],
                             [False] * 4])
    assert torch.equal(clips_in_spans(spans, mask), expected)
