"""SpanATSSHead: multi-level ATSS spans, its losses, collaborative queries and predictions."""
import dataclasses
import math

import pytest
import torch
from torch import nn

from model_test_utils import (assert_gradients_reach, fill_padding, mmdet_atss, pyramid_inputs,
                              randomise_parameters)
from sgdetr.models.heads import ATSSOutput, SpanATSSHead
from sgdetr.models.heads.atss import level_anchors
from sgdetr.models.layers import inverse_sigmoid
from sgdetr.registry import MODELS
from sgdetr.structures import span_iou, span_xx_to_cxw

C = 16


def build(seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(dict(type='SpanATSSHead', embed_dims=C, **kwargs))


def run(head, lengths=(16, 8), total=16, seed=0):
    levels, masks = pyramid_inputs(lengths, total, C, seed)
    return head(levels, masks), levels, masks


#: GT of two 2 s-clip videos of 16 and 8 clips (timelines 32 s and 16 s, the
#: second padded to 16 clips in the batch)
TIMELINES = torch.tensor([32.0, 16.0])
GT_SECONDS = [torch.tensor([[4.0, 11.0], [20.0, 30.0], [1.0, 31.0]]),
              torch.tensor([[2.0, 9.0]])]
GT = [span_xx_to_cxw(g / t) for g, t in zip(GT_SECONDS, TIMELINES)]
#: the same GT in units of 2 s (whole seconds / 2)
GT_UNITS = [torch.tensor([[2.0, 5.5], [10.0, 15.0], [0.5, 15.5]]), torch.tensor([[1.0, 4.5]])]
EMPTY = [torch.zeros(0, 2), torch.zeros(0, 2)]


def test_level_anchors_values():
    anchors = level_anchors([4, 2], [0.5, 2], [4, 32])
    torch.testing.assert_close(anchors[0], torch.tensor(
        [[0.25 - 1.5, 0.25 + 1.5], [0.75 - 1.5, 0.75 + 1.5], [1.25 - 1.5, 1.25 + 1.5],
         [1.75 - 1.5, 1.75 + 1.5]]))
    torch.testing.assert_close(anchors[1], torch.tensor([[1 - 15.5, 1 + 15.5],
                                                         [3 - 15.5, 3 + 15.5]]))
    # the released layout: one anchor per position of every level
    anchors = level_anchors([32, 16, 8, 4], [0.5, 1, 2, 4], [4, 16, 32, 64])
    assert [len(a) for a in anchors] == [32, 16, 8, 4]
    for a, stride, size in zip(anchors, (0.5, 1, 2, 4), (4, 16, 32, 64)):
        torch.testing.assert_close(a.mean(-1), torch.arange(len(a)) * stride + stride / 2)
        assert ((a[:, 1] - a[:, 0]) == size - 1).all()


def test_forward_shapes_prior_and_padding():
    head = build(prior_prob=0.35).eval()
    out, levels, masks = run(head)
    S = 32 + 16 + 8 + 4
    assert out.cls_logits.shape == (2, S) and out.deltas.shape == (2, S, 2)
    assert out.centerness.shape == (2, S) and out.anchors.shape == (S, 2)
    torch.testing.assert_close(out.valid, torch.cat(masks, 1))
    # the cls bias carries the prior; the weights are small
    assert abs(out.cls_logits.sigmoid().mean() - 0.35) < 0.02
    randomise_parameters(head)
    out, levels, masks = run(head)
    noisy = head([fill_padding(lvl, m) for lvl, m in zip(levels, masks)], masks)
    alone = head([lvl[1:, :m[1].sum()] for lvl, m in zip(levels, masks)],
                 [m[1:, :m[1].sum()] for m in masks])
    valid = out.valid[1]
    for key in ('cls_logits', 'deltas', 'centerness'):
        torch.testing.assert_close(getattr(noisy, key)[out.valid], getattr(out, key)[out.valid],
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(getattr(alone, key)[0], getattr(out, key)[1][valid],
                                   atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone.anchors, out.anchors[valid])


def test_targets_are_whole_seconds_in_units():
    head = build()
    gt = [span_xx_to_cxw(torch.tensor([[15.7, 52.5]]) / 150)]
    units, valid = head.to_units(gt, torch.tensor([150.0]))
    # seconds truncated to whole seconds, then divided by unit_seconds (2)
    torch.testing.assert_close(units[0], torch.tensor([[7.5, 26.0]]))
    assert valid.tolist() == [[True]]
    # samples with fewer GTs are padded, and their padding is marked
    units, valid = head.to_units(GT, TIMELINES)
    assert units.shape == (2, 3, 2) and valid.tolist() == [[True] * 3, [True, False, False]]
    torch.testing.assert_close(units[0], GT_UNITS[0])
    torch.testing.assert_close(units[1, :1], GT_UNITS[1])
    # a sample without GT, whatever its empty shape
    units, valid = head.to_units([torch.zeros(0), GT[1]], TIMELINES)
    assert units.shape == (2, 1, 2) and valid.tolist() == [[False], [True]]


def test_assignment_is_per_sample_atss_on_valid_anchors():
    head = build(topk=3)
    out, levels, masks = run(head)
    units, units_valid = head.to_units(GT, TIMELINES)
    assigned = head.assign(out, units, units_valid)
    assert assigned.shape == out.valid.shape
    assert (assigned[~out.valid] == -1).all()
    assert (assigned >= 0).sum() > 0
    for b in range(2):
        valid = out.valid[b]
        own = mmdet_atss(3, out.anchors[valid], [int(m[b].sum()) for m in masks],
                         units[b][units_valid[b]])
        assert torch.equal(assigned[b][valid], own)
        assert set(assigned[b][assigned[b] >= 0].tolist()) <= set(range(len(GT[b])))
    # the short sample alone is assigned the same
    alone = head([lvl[1:, :m[1].sum()] for lvl, m in zip(levels, masks)],
                 [m[1:, :m[1].sum()] for m in masks])
    alone_units = head.to_units(GT[1:], TIMELINES[1:])
    assert torch.equal(head.assign(alone, *alone_units)[0], assigned[1][out.valid[1]])
    no_gt = head.assign(out, *head.to_units(EMPTY, TIMELINES))
    assert (no_gt == -1).all()


def test_loss_terms_finite_and_centerness_targets():
    head = randomise_parameters(build())
    out, _, _ = run(head)
    units, units_valid = head.to_units(GT, TIMELINES)
    assigned = head.assign(out, units, units_valid)
    losses = head.loss(out, assigned, units)
    assert set(losses) == {'atss.loss_cls', 'atss.loss_l1', 'atss.loss_giou',
                           'atss.loss_centerness'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values()), losses
    # the centerness term against min(l, r) / max(l, r) of the anchor centre
    batch, index = (assigned >= 0).nonzero(as_tuple=True)
    target = torch.cat(GT_UNITS)[torch.tensor([0, 3])[batch] + assigned[batch, index]]
    centre = out.anchors[index].mean(-1)
    left, right = centre - target[:, 0], target[:, 1] - centre
    ctr = torch.minimum(left, right) / torch.maximum(left, right)
    expected = nn.functional.binary_cross_entropy_with_logits(
        out.centerness[batch, index], ctr) * 0.5
    torch.testing.assert_close(losses['atss.loss_centerness'], expected)
    # a level's regression scale learns when the level has positives
    sizes = [len(m[0]) for m in out.level_masks]
    level_of = torch.repeat_interleave(torch.arange(4), torch.tensor(sizes))
    with_positives = set(level_of[index].tolist())
    assert len(with_positives) >= 2
    assert_gradients_reach(head, sum(losses.values()), allow_zero={
        f'scales.{k}.scale' for k in range(4) if k not in with_positives})


def test_loss_without_positives_is_zero_but_connected():
    head = randomise_parameters(build())
    out, _, _ = run(head)
    empty = head.to_units(EMPTY, TIMELINES)
    losses = head.loss(out, head.assign(out, *empty), empty[0])
    assert losses['atss.loss_cls'] > 0
    for key in ('atss.loss_l1', 'atss.loss_giou', 'atss.loss_centerness'):
        assert losses[key] == 0 and losses[key].requires_grad
    # every output still in the graph
    assert_gradients_reach(head, sum(losses.values()), allow_zero={
        n for n, _ in head.named_parameters() if not n.startswith('cls_')})


def test_collaborative_group_puts_every_positive_first_and_pads_with_own_negatives():
    head = build(topk=3)
    levels, masks = pyramid_inputs((16, 8), 16, C)
    # feature 0 of every position is its index in the concatenated levels
    # (and 1000 * sample), so the chosen anchors can be read off the content
    S = sum(lvl.shape[1] for lvl in levels)
    index_feature = torch.arange(S)[None] + 1000 * torch.arange(2)[:, None]
    start = 0
    for lvl in levels:
        lvl[..., 0] = index_feature[:, start:start + lvl.shape[1]].float()
        start += lvl.shape[1]
    out = head(levels, masks)
    units, units_valid = head.to_units(GT, TIMELINES)
    assigned = head.assign(out, units, units_valid)
    positives = [set(assigned[b].ge(0).nonzero()[:, 0].tolist()) for b in range(2)]
    size = max(len(p) for p in positives)
    assert len(positives[0]) != len(positives[1])
    group = head.collaborative_samples(out, assigned, units, levels, TIMELINES)
    assert group.features.shape[1] == size and group.valid.all()
    for b in range(2):
        chosen = (group.features[b, :, 0] - 1000 * b).long()
        count = len(positives[b])
        assert set(chosen[:count].tolist()) == positives[b]
        assert (group.labels[b, :count] == 1).all() and (group.labels[b, count:] == 0).all()
        negatives = chosen[count:]
        assert out.valid[b, negatives].all()  # the sample's own valid anchors
        assert not (assigned[b, negatives] >= 0).any()
        assert len(set(chosen.tolist())) == size
        scale = head.unit_seconds / TIMELINES[b]
        torch.testing.assert_close(group.spans[b], span_xx_to_cxw(out.anchors[chosen]) * scale)
        target = units[b][assigned[b, chosen[:count]]]
        torch.testing.assert_close(group.target_spans[b, :count], span_xx_to_cxw(target) * scale)
    empty = head.to_units(EMPTY, TIMELINES)
    assert head.collaborative_samples(out, head.assign(out, *empty), empty[0], levels,
                                      TIMELINES) is None


def reference_predict(head, out, timelines, score_thr, nms_thr, max_per_video):
    """Score, decode, clip, greedy NMS per sample, the best ``max_per_video`` (+ ties).

    Returns per sample the kept (score, span) pairs and how many NMS suppressed.
    """
    out = ATSSOutput(**{k: v.detach() if torch.is_tensor(v) else v
                        for k, v in out.__dict__.items()})
    scores = (out.cls_logits.sigmoid() * out.centerness.sigmoid()).sqrt()
    results = []
    for b, timeline in enumerate(timelines.tolist()):
        candidates = []
        for i in range(scores.shape[1]):
            if out.valid[b, i] and scores[b, i] > score_thr:
                span = head.coder.decode(out.anchors[i], out.deltas[b, i]) * 2.0
                candidates.append((float(scores[b, i]), span.clamp(0, timeline)))
        candidates.sort(key=lambda c: -c[0])
        kept = []
        for score, span in candidates:
            if all(float(span_iou(span[None], other[None])[0, 0]) <= nms_thr
                   for _, other in kept):
                kept.append((score, span))
        suppressed = len(candidates) - len(kept)
        if len(kept) > max_per_video:
            last = kept[max_per_video - 1][0]
            kept = [k for k in kept if k[0] >= last]
        results.append((kept, suppressed))
    return results


@pytest.mark.parametrize('score_thr, nms_thr, max_per_video', [(0.05, 0.5, 10), (0.2, 0.75, 4)])
def test_predict_equals_a_plain_reimplementation(score_thr, nms_thr, max_per_video):
    head = randomise_parameters(build(), scale=0.5)
    with torch.no_grad():
        head.cls_conv.bias.fill_(0.0)
    out, _, _ = run(head)
    preds = head.predict(out, TIMELINES, score_thr, nms_thr, max_per_video)
    expected = reference_predict(head, out, TIMELINES, score_thr, nms_thr, max_per_video)
    for b, (pred, (ref, suppressed)) in enumerate(zip(preds, expected)):
        assert len(ref) >= 2 and suppressed > 0, 'too easy: nothing to suppress'
        assert len(pred['scores']) == len(ref) <= max_per_video
        torch.testing.assert_close(pred['scores'], torch.tensor([s for s, _ in ref]))
        torch.testing.assert_close(pred['spans'], torch.stack([s for _, s in ref]),
                                   atol=1e-4, rtol=1e-5)
        assert (pred['spans'] >= 0).all() and (pred['spans'] <= TIMELINES[b]).all()
        assert (pred['scores'][:-1] >= pred['scores'][1:]).all()
        iou = span_iou(pred['spans'], pred['spans']).fill_diagonal_(0)
        assert (iou <= nms_thr + 1e-6).all()


def test_predict_keeps_ties_at_the_last_score():
    head = build()
    anchors = torch.tensor([[float(2 * i), 2 * i + 1.0] for i in range(6)])
    out = ATSSOutput(cls_logits=torch.tensor([[3.0, 2.0, 1.0, 1.0, 1.0, -5.0]]),
                     centerness=torch.full((1, 6), 2.0), deltas=torch.zeros(1, 6, 2),
                     valid=torch.ones(1, 6, dtype=torch.bool), anchors=anchors,
                     level_masks=[torch.ones(1, 6, dtype=torch.bool)])
    pred = head.predict(out, torch.tensor([100.0]), score_thr=0.05, nms_thr=0.5,
                        max_per_video=3)[0]
    # scores 3 > 2 > 1 = 1 = 1: the third place is shared by three windows
    assert len(pred['scores']) == 5
    expected = (torch.tensor([3.0, 2.0, 1.0, 1.0, 1.0]).sigmoid() * torch.sigmoid(
        torch.tensor(2.0))).sqrt()
    torch.testing.assert_close(pred['scores'], expected)
    # spans in seconds: anchors in 2 s units
    torch.testing.assert_close(pred['spans'][0], anchors[0] * 2)
    # the last anchor is below the score threshold
    assert (pred['spans'][:, 0] < 20).all()
    empty = head.predict(dataclasses.replace(out, valid=torch.zeros(1, 6, dtype=torch.bool)),
                         torch.tensor([100.0]))[0]
    assert empty['spans'].shape == (0, 2) and empty['scores'].shape == (0, )


def test_scales_are_per_level():
    head = build()
    assert len(head.scales) == 4 and isinstance(head, SpanATSSHead)
    with torch.no_grad():
        head.scales[2].scale.fill_(0.0)
    out, _, masks = run(head)
    sizes = [m.shape[1] for m in masks]
    third = slice(sum(sizes[:2]), sum(sizes[:3]))
    assert (out.deltas[:, third] == 0).all() and (out.deltas[:, :sizes[0]] != 0).any()
    assert math.isclose(head.coder.stds[0], 0.1) and math.isclose(head.coder.stds[1], 0.2)
