"""SpanATSSHead: forward, losses, positive query group, prediction."""
import math

import pytest
import torch
from torch import nn

from sgdetr.models.heads.atss import SpanATSSHead  # noqa: F401  (registers it)
from sgdetr.models.heads.atss.atss_targets import centerness_target
from sgdetr.models.heads.atss.masked_conv_tower import MaskedGroupNorm1d
from sgdetr.models.heads.atss.positive_queries import positive_anchor_group
from sgdetr.models.heads.atss.span_anchors import clip_anchors
from sgdetr.models.layers.query_group import QueryGroup
from sgdetr.structures import lift_spans
from sgdetr.registry import MODELS
from sgdetr.structures.spans import span_giou, span_iou

H = 8


def tiny_head(**kwargs):
    torch.manual_seed(0)
    defaults = dict(in_channels=H, feat_channels=8, num_groups=2,
                    anchor_widths=(1, 2, 4), num_predictions=6)
    defaults.update(kwargs)
    return MODELS.build(dict(type='SpanATSSHead', **defaults))


def batch():
    """Two samples of 9 and 6 real clips (L = 9); sample 1's padding is noise."""
    g = torch.Generator().manual_seed(1)
    memory = torch.randn(2, 9, H, generator=g)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 6:] = False
    gts = [torch.tensor([[0.2, 0.6]]), torch.tensor([[0.1, 0.3], [0.5, 0.9]])]
    return memory, mask, gts


def test_anchors_are_centred_on_clips():
    anchors = clip_anchors(3, (1, 4))
    assert anchors.shape == (2, 3, 2)
    torch.testing.assert_close(anchors[1], torch.tensor(
        [[-1.5, 2.5], [-0.5, 3.5], [0.5, 4.5]]))


def test_centerness_target_hand_computed():
    # centre 2 in [0, 8]: l = 2, r = 6 -> sqrt(1/3); centre 4: 1
    anchors = torch.tensor([[1., 3.], [3.5, 4.5]])
    gts = torch.tensor([[0., 8.], [0., 8.]])
    torch.testing.assert_close(centerness_target(anchors, gts),
                               torch.tensor([math.sqrt(1 / 3), 1.]))


def test_positive_losses_hand_computed():
    # anchor [2, 6] with zero deltas predicts itself; GT [2, 10]; 10 clips.
    # normalised: pred [.2, .6] = (c .4, w .4), GT [.2, 1] = (c .6, w .8):
    # L1 .2 + .4 = .6 (x 10); GIoU = IoU = 4 / 8 -> loss .5; one positive, so
    # the centerness weight sqrt(2 / 6) cancels out. Centerness logit 0 ->
    # BCE log 2 against any target.
    losses = tiny_head()._positive_losses(
        torch.tensor([[2., 6.]]), torch.zeros(1, 2), torch.zeros(1),
        torch.tensor([[2., 10.]]), torch.tensor([[10.]]), torch.tensor(1.))
    torch.testing.assert_close(losses['atss.loss_l1'], torch.tensor(6.))
    torch.testing.assert_close(losses['atss.loss_giou'], torch.tensor(0.5))
    torch.testing.assert_close(losses['atss.loss_centerness'],
                               torch.tensor(math.log(2)))


def test_mmdet_giou_loss_on_lifted_spans_is_1d_giou():
    loss = MODELS.build(dict(type='mmdet.GIoULoss', reduction='none'))
    pred = torch.tensor([[0.1, 0.4], [0.5, 0.9]])
    target = torch.tensor([[0.2, 0.6], [0.0, 0.3]])
    torch.testing.assert_close(loss(lift_spans(pred), lift_spans(target)),
                               1 - span_giou(pred, target, aligned=True))


def test_masked_group_norm_matches_group_norm_and_ignores_padding():
    norm = MaskedGroupNorm1d(2, 4)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    x = torch.randn(1, 4, 5)
    full = torch.ones(1, 5, dtype=torch.bool)
    torch.testing.assert_close(norm(x, full), nn.functional.group_norm(
        x, 2, norm.weight, norm.bias, norm.eps))
    padded = torch.cat((x, torch.randn(1, 4, 3) * 100), -1)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    out = norm(padded, mask)
    torch.testing.assert_close(out[..., :5], norm(x, full))
    assert (out[..., 5:] == 0).all()


def test_forward_shapes():
    memory, mask, _ = batch()
    cls, deltas, centerness = tiny_head()(memory, mask)
    assert cls.shape == (2, 3, 9) and centerness.shape == (2, 3, 9)
    assert deltas.shape == (2, 3, 9, 2)


def test_padded_clips_never_change_real_outputs():
    head = tiny_head()
    memory, mask, gts = batch()
    other = memory.clone()
    other[1, 6:] = torch.randn(3, H) * 50
    alone = memory[1:, :6], mask[1:, :6]
    for outputs, outputs_other, outputs_alone in zip(
            head(memory, mask), head(other, mask), head(*alone)):
        torch.testing.assert_close(outputs[1, :, :6], outputs_other[1, :, :6])
        torch.testing.assert_close(outputs[1:, :, :6], outputs_alone)
    losses, group = head.loss(memory[1:], mask[1:], gts[1:])
    losses_alone, group_alone = head.loss(*alone, gts[1:])
    for key in losses:
        torch.testing.assert_close(losses[key], losses_alone[key])
    torch.testing.assert_close(group.ref_spans, group_alone.ref_spans)
    torch.testing.assert_close(group.content, group_alone.content)
    for value, value_alone in zip(head.predict(memory[1:], mask[1:]),
                                  head.predict(*alone)):
        torch.testing.assert_close(value, value_alone)


def test_one_optimisation_step_reaches_every_parameter():
    head = tiny_head()
    memory, mask, gts = batch()
    before = {n: p.detach().clone() for n, p in head.named_parameters()}
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    losses, _ = head.loss(memory, mask, gts)
    assert set(losses) == {'atss.loss_cls', 'atss.loss_l1', 'atss.loss_giou',
                           'atss.loss_centerness'}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    optimizer.step()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
        assert not torch.equal(param, before[name]), name


def test_positive_group_describes_the_positive_anchors():
    head = tiny_head()
    memory, mask, gts = batch()
    _, group = head.loss(memory, mask, gts)
    assert isinstance(group, QueryGroup) and group.name == 'atss'
    B, G = group.valid.shape
    assert B == 2 and group.ref_spans.shape == (2, G, 2)
    assert group.content.shape == (2, G, H)
    assert (group.gt_indices[~group.valid] == -1).all()
    assert (group.gt_indices[group.valid] >= 0).all()
    assert (group.ref_spans >= 0).all() and (group.ref_spans <= 1).all()
    # every positive anchor is found again: the clip under its centre holds
    # the gathered content, and it overlaps its GT
    for b in range(2):
        num_clips = int(mask[b].sum())
        for g in range(G):
            if not group.valid[b, g]:
                continue
            centre, width = group.ref_spans[b, g]
            clip = int(centre * num_clips)
            torch.testing.assert_close(group.content[b, g], memory[b, clip])
            span = torch.stack((centre - width / 2, centre + width / 2))
            gt = gts[b][group.gt_indices[b, g]]
            assert span_iou(span[None], gt[None]) > 0
    assert group.valid.sum(1).min() > 0


def test_positive_anchor_group_hand_computed():
    # one width (2 clips), 4 clips; sample 0 has positives at clips 1, 2, 3
    # with IoUs .5, .9, .7; sample 1 only at clip 0. Cap 2 keeps clips 2, 3.
    anchors = clip_anchors(4, (2,))
    assigned = torch.tensor([[[-1, 0, 1, 0]], [[0, -1, -1, -1]]])
    ious = torch.tensor([[[0., .5, .9, .7]], [[.6, 0., 0., 0.]]])
    memory = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    group = positive_anchor_group(memory, anchors, assigned, ious,
                                  torch.tensor([4., 4.]), max_queries=2,
                                  loss_weight=0.5)
    # clip 2: [1.5, 3.5] / 4 -> (0.625, 0.5); clip 3: [2.5, 4.5] / 4 clipped
    # to [0.625, 1] -> (0.8125, 0.375); sample 1 clip 0: [-0.5, 1.5] / 4
    # clipped to [0, 0.375] -> (0.1875, 0.375), then a padding row.
    torch.testing.assert_close(group.ref_spans, torch.tensor(
        [[[0.625, 0.5], [0.8125, 0.375]], [[0.1875, 0.375], [0.5, 0.5]]]))
    assert torch.equal(group.gt_indices, torch.tensor([[1, 0], [0, -1]]))
    assert torch.equal(group.valid, torch.tensor([[True, True], [True, False]]))
    torch.testing.assert_close(group.content[0], memory[0, [2, 3]])
    torch.testing.assert_close(group.content[1, 0], memory[1, 0])
    assert group.loss_weight == 0.5 and group.name == 'atss'


def test_head_caps_its_group():
    memory, mask, gts = batch()
    _, full = tiny_head().loss(memory, mask, gts)
    _, capped = tiny_head(max_positive_queries=2).loss(memory, mask, gts)
    assert full.valid.shape[1] > 2 and capped.valid.shape[1] == 2
    torch.testing.assert_close(capped.ref_spans, full.ref_spans[:, :2])
    assert torch.equal(capped.gt_indices, full.gt_indices[:, :2])


def test_no_gt_gives_zero_regression_and_an_empty_group():
    head = tiny_head()
    memory, mask, _ = batch()
    losses, group = head.loss(memory, mask, [torch.zeros(0, 2)] * 2)
    assert losses['atss.loss_cls'] > 0
    for key in ('atss.loss_l1', 'atss.loss_giou', 'atss.loss_centerness'):
        assert losses[key] == 0
    sum(losses.values()).backward()
    assert group.valid.shape == (2, 0) and group.content.shape == (2, 0, H)


def test_predict_ranks_clipped_non_overlapping_spans():
    head = tiny_head(nms_iou_thr=0.5)
    memory, mask, _ = batch()
    spans, scores = head.predict(memory, mask)
    assert spans.shape == (2, 6, 2) and scores.shape == (2, 6)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    assert (spans >= 0).all() and (spans <= 1).all()
    for b in range(2):
        real = scores[b] > 0
        overlaps = span_iou(spans[b][real], spans[b][real])
        assert (overlaps.triu(1) <= 0.5 + 1e-6).all()


def test_predict_fills_missing_rows_with_zero_scores():
    head = tiny_head(num_predictions=40, nms_iou_thr=None)
    memory, mask, _ = batch()
    spans, scores = head.predict(memory, mask)
    # sample 1 has 6 real clips x 3 widths = 18 anchors at most
    assert (scores[1, 18:] == 0).all() and (spans[1, 18:] == 0).all()
    assert (scores[1, :18] > 0).all()


def test_predict_and_loss_survive_samples_without_real_clips():
    head = tiny_head()
    memory, mask, gts = batch()
    mask[:] = False
    spans, scores = head.predict(memory, mask)
    assert (scores == 0).all() and (spans == 0).all()
    losses, group = head.loss(memory, mask, gts)
    assert all(torch.isfinite(v) for v in losses.values())
    assert group.valid.shape == (2, 0)


@pytest.mark.parametrize('loss_weight', [2.0])
def test_loss_weight_scales_every_loss(loss_weight):
    memory, mask, gts = batch()
    losses, _ = tiny_head().loss(memory, mask, gts)
    scaled, _ = tiny_head(loss_weight=loss_weight).loss(memory, mask, gts)
    for key in losses:
        torch.testing.assert_close(scaled[key], losses[key] * loss_weight)
