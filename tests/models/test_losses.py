"""Highlight losses, rank-contrastive loss, moment-sentence alignment and moment-clip losses."""
import math

import pytest
import torch

from sgdetr.models.encoders import SALIENCY_PADDING_VALUE
from sgdetr.models.losses import (MomentClipLoss, MomentSentenceAlignmentLoss, SaliencyLoss,
                                  rank_contrastive_loss)
from sgdetr.registry import MODELS

PAD = SALIENCY_PADDING_VALUE


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def bce(logit, target):
    p = sigmoid(logit)
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def loop_rank_contrastive(saliency, labels, mask, tau=0.5, num_levels=12):
    """The released rank-contrastive loss, one level, row and clip at a time."""
    total = 0.0
    for r in range(1, num_levels):
        row_terms = []
        for i in range(len(saliency)):
            scores = [(float(s) if m else -1e3) / tau for s, m in zip(saliency[i], mask[i])]
            log_z = math.log(sum(math.exp(s) for s in scores))
            positives = [j for j in range(len(scores)) if mask[i][j] and labels[i][j] >= r]
            row_terms.append(sum(scores[j] - log_z for j in positives) / len(positives)
                             if positives else 0.0)
        total += -sum(row_terms) / len(row_terms)
    return total / num_levels


# -- rank contrastive ------------------------------------------------------------
def test_rank_contrastive_equals_the_plain_loop_on_random_rows():
    g = torch.Generator().manual_seed(0)
    for num_levels, tau in ((12, 0.5), (5, 1.0), (2, 0.1)):
        saliency = torch.randn(4, 7, generator=g) * 2
        labels = torch.randint(0, 13, (4, 7), generator=g).float()
        labels[2] = 0  # a row without positives counts 0
        mask = torch.rand(4, 7, generator=g) > 0.2
        mask[:, 0] = True
        got = rank_contrastive_loss(saliency, labels, mask, tau, num_levels)
        expected = loop_rank_contrastive(saliency.tolist(), labels.tolist(), mask.tolist(),
                                         tau, num_levels)
        assert math.isclose(float(got), expected, rel_tol=1e-4, abs_tol=1e-5)


def test_rank_contrastive_hand_computed():
    # one row of 3 valid clips (+1 padded), labels 2, 1, 0, tau 1, levels 3:
    # r = 1: positives {0, 1}; r = 2: {0}; log-softmax of (1, 0, -1) (the padded
    # clip at -1000 weighs nothing).
    saliency = torch.tensor([[1.0, 0.0, -1.0, 50.0]])
    labels = torch.tensor([[2.0, 1.0, 0.0, 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    log_z = math.log(math.e + 1 + math.exp(-1))
    level1 = ((1 - log_z) + (0 - log_z)) / 2
    level2 = 1 - log_z
    expected = -(level1 + level2) / 3
    got = rank_contrastive_loss(saliency, labels, mask, tau=1.0, num_levels=3)
    assert math.isclose(float(got), expected, rel_tol=1e-5)


# -- saliency loss ------------------------------------------------------------------
SALIENCY = torch.tensor([[2.0, -1.0, 0.5, PAD], [0.3, 0.1, -0.4, 1.2]])
MASK = torch.tensor([[True, True, True, False], [True] * 4])
LABELS = torch.tensor([[3.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 4.0]])
POS = torch.tensor([[0, 2], [3, 1]])
NEG = torch.tensor([[1, 1], [0, 2]])


def test_saliency_loss_terms_without_negative_pairs():
    loss = SaliencyLoss(margin=0.15, tau=0.5, num_levels=12)
    out = loss(SALIENCY, MASK, LABELS, POS, NEG, prefix='hd_local')
    assert set(out) == {'hd_local.loss_bce', 'hd_local.loss_margin', 'hd_local.loss_rank'}
    values = [(2.0, 1), (-1.0, 0), (0.5, 1), (0.3, 0), (0.1, 1), (-0.4, 0), (1.2, 1)]
    expected_bce = sum(bce(s, t) for s, t in values) / 7
    assert math.isclose(float(out['hd_local.loss_bce']), expected_bce, rel_tol=1e-5)
    gaps = [0.15 + sigmoid(-1.0) - sigmoid(2.0), 0.15 + sigmoid(-1.0) - sigmoid(0.5),
            0.15 + sigmoid(0.3) - sigmoid(1.2), 0.15 + sigmoid(-0.4) - sigmoid(0.1)]
    expected_margin = sum(max(0, g) for g in gaps) / 4 * 2
    assert math.isclose(float(out['hd_local.loss_margin']), expected_margin, rel_tol=1e-5)
    expected_rank = loop_rank_contrastive(SALIENCY.tolist(), LABELS.tolist(), MASK.tolist())
    assert math.isclose(float(out['hd_local.loss_rank']), expected_rank, rel_tol=1e-4)


def test_saliency_loss_with_a_negative_pair():
    neg_saliency = torch.tensor([[-2.0, 1.0, 0.0, 7.0]])  # video 0 with another query
    rows = torch.tensor([0])
    loss = SaliencyLoss(rank_weight=0.5, loss_weight=2.0)
    out = loss(SALIENCY, MASK, LABELS, POS, NEG, neg_saliency, rows, prefix='hd')
    assert set(out) == {'hd.loss_bce', 'hd.loss_margin', 'hd.loss_rank', 'hd.loss_neg'}
    # -log(1 - sigmoid(s)) over the valid clips of video 0 (the padded one is left out)
    expected_neg = sum(-math.log(1 - sigmoid(s)) for s in (-2.0, 1.0, 0.0)) / 3
    assert math.isclose(float(out['hd.loss_neg']), 2.0 * expected_neg, rel_tol=1e-5)
    # video 0 ranked together with its negative pair (label 0), video 1 alone
    paired = loop_rank_contrastive([SALIENCY[0].tolist() + neg_saliency[0].tolist()],
                                   [LABELS[0].tolist() + [0.0] * 4],
                                   [MASK[0].tolist() * 2])
    alone = loop_rank_contrastive([SALIENCY[1].tolist()], [LABELS[1].tolist()],
                                  [MASK[1].tolist()])
    assert math.isclose(float(out['hd.loss_rank']), 2.0 * 0.5 * (paired + alone), rel_tol=1e-4)
    plain = SaliencyLoss()(SALIENCY, MASK, LABELS, POS, NEG)
    for term in ('loss_bce', 'loss_margin'):
        assert math.isclose(float(out[f'hd.{term}']), 2.0 * float(plain[f'hd.{term}']),
                            rel_tol=1e-6)


def test_samples_without_a_clip_pair_are_left_out_of_the_margin():
    # the pipeline marks a sample without relevant clips with pair indices -1
    pos = torch.tensor([[0, 2], [-1, -1]])
    neg = torch.tensor([[1, 1], [-1, -1]])
    out = SaliencyLoss()(SALIENCY, MASK, LABELS, pos, neg)
    alone = SaliencyLoss()(SALIENCY[:1], MASK[:1], LABELS[:1], POS[:1], NEG[:1])
    torch.testing.assert_close(out['hd.loss_margin'], alone['hd.loss_margin'])
    none = SaliencyLoss()(SALIENCY, MASK, LABELS, pos[1:].expand(2, 2), neg[1:].expand(2, 2))
    assert none['hd.loss_margin'] == 0 and all(torch.isfinite(v) for v in none.values())


def test_saliency_loss_every_row_paired_and_gradients():
    saliency = SALIENCY.clone().requires_grad_(True)
    neg = torch.randn(2, 4, requires_grad=True)
    out = SaliencyLoss()(saliency, MASK, LABELS, POS, NEG, neg, torch.tensor([0, 1]))
    assert all(torch.isfinite(v) for v in out.values())
    sum(out.values()).backward()
    assert saliency.grad[MASK].abs().min() > 0 and neg.grad[MASK].abs().sum() > 0
    assert saliency.grad[~MASK].abs().max() == 0
    # without negative rows given, none is computed
    empty = SaliencyLoss()(SALIENCY, MASK, LABELS, POS, NEG, neg[:0], torch.zeros(0).long())
    assert 'hd.loss_neg' not in empty


# -- moment-sentence alignment and moment-clip classification --------------------------
def test_moment_sentence_alignment_is_a_focal_loss_over_the_batch():
    g = torch.Generator().manual_seed(0)
    moment, sentence = torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    out = MomentSentenceAlignmentLoss(gamma=2.0, alpha=0.5, loss_weight=1.5)(moment, sentence)
    assert set(out) == {'loss_align'}
    total = 0.0
    for i in range(3):
        for j in range(3):
            s = float(torch.cosine_similarity(moment[i], sentence[j], dim=0))
            p, t = sigmoid(s), float(i == j)
            p_t = p * t + (1 - p) * (1 - t)
            alpha_t = 0.5 * t + 0.5 * (1 - t)
            total += -alpha_t * (1 - p_t)**2 * math.log(p_t)
    assert math.isclose(float(out['loss_align']), 1.5 * total / 3, rel_tol=1e-5)
    # aligned tokens lose less than shuffled ones
    aligned = MomentSentenceAlignmentLoss()(sentence + 0.01 * moment, sentence)['loss_align']
    shuffled = MomentSentenceAlignmentLoss()(sentence.roll(1, 0), sentence)['loss_align']
    assert aligned < shuffled


def test_moment_clip_loss_hand_computed():
    moment = torch.tensor([[1.0, 0.0, 2.0, 0.0]])
    clips = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, -1.0, 0.0], [5.0, 5.0, 5.0, 5.0]]])
    in_moment = torch.tensor([[True, False, True]])
    mask = torch.tensor([[True, True, False]])
    out = MomentClipLoss(loss_weight=3.0)(moment, clips, in_moment, mask)
    # logits <moment, clip> / sqrt(4): 1.5 and -1 (the padded clip is left out)
    expected = (bce(1.5, 1) + bce(-1.0, 0)) / 2 * 3.0
    assert math.isclose(float(out['loss_moment_clip']), expected, rel_tol=1e-5)


@pytest.mark.parametrize('cfg', [dict(type='SaliencyLoss'),
                                 dict(type='MomentSentenceAlignmentLoss'),
                                 dict(type='MomentClipLoss')])
def test_registered(cfg):
    assert MODELS.build(cfg) is not None
