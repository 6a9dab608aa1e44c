"""SpanDETRHead: query selection, conditional decoder, set losses and query groups."""
import dataclasses
import math

import pytest
import torch

from model_test_utils import (assert_gradients_reach, length_mask, randomise_parameters,
                              without_drop_path)
from sgdetr.models.heads import AnchorSamples, DETRPredictions, QueryGroup, SpanDETRHead
from sgdetr.models.heads.detr.set_losses import group_losses, matched_set_losses
from sgdetr.models.layers import inverse_sigmoid
from sgdetr.registry import MODELS
from sgdetr.structures import span_cxw_to_xx

H, HEADS, Q = 16, 4, 6


def build(seed=0, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(type='SpanDETRHead', embed_dims=H, num_queries=Q, num_decoder_layers=2,
               num_heads=HEADS)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def head_inputs(lengths=(16, 8), seed=0):
    g = torch.Generator().manual_seed(seed)
    total = max(lengths)
    sizes = (2 * total, total, total // 2, total // 4)
    return dict(
        memory=torch.randn(len(lengths), total, H, generator=g),
        memory_mask=length_mask(lengths),
        memory_pos=torch.randn(len(lengths), total, H, generator=g),
        levels=[torch.randn(len(lengths), s, H, generator=g) for s in sizes],
        level_masks=[length_mask([n * s // total for n in lengths], total=s) for s in sizes])


GT = [torch.tensor([[0.3, 0.2], [0.7, 0.1]]), torch.tensor([[0.5, 0.4]])]


def make_group(name, size, seed, batch=2, labels=None):
    g = torch.Generator().manual_seed(seed)
    labels = torch.ones(batch, size) if labels is None else labels
    return QueryGroup(name=name, content=torch.randn(batch, size, H, generator=g),
                      reference=inverse_sigmoid(torch.rand(batch, size, 2, generator=g) * 0.5
                                                + 0.2),
                      valid=torch.ones(batch, size, dtype=torch.bool), labels=labels,
                      target_spans=torch.rand(batch, size, 2, generator=g) * 0.3 + 0.2)


def test_forward_shapes_and_loss_terms():
    head = build().eval()
    out = head(**head_inputs())
    assert out.cls_logits.shape == (2, 2, Q) and out.spans.shape == (2, 2, Q, 2)
    assert out.iou_logits.shape == (2, 2, Q) and out.valid.shape == (2, Q)
    assert out.groups == []
    assert ((out.spans > 0) & (out.spans < 1)).all()
    losses = head.loss(out, GT)
    terms = ('loss_label', 'loss_span', 'loss_giou', 'loss_iou')
    assert set(losses) == {f'{p}.{t}' for p in ('enc', 'd0', 'd1') for t in terms}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values()), losses
    # every layer's terms carry the configured weights (encoder proposals half of them)
    gt_xx = [span_cxw_to_xx(g) for g in GT]
    for prefix, logits, spans, iou, factor in (
            ('d1', out.cls_logits[1], out.spans[1], out.iou_logits[1], 1.0),
            ('enc', out.selection.cls_logits, out.selection.spans,
             out.selection.iou_logits, 0.5)):
        indices = head.matcher(logits, span_cxw_to_xx(spans), gt_xx,
                               iou_scores=iou.sigmoid(), valid=out.valid)
        assert sorted(indices[0][indices[0] >= 0].tolist()) == [0, 1]
        assert indices[1][indices[1] >= 0].tolist() == [0]
        raw = matched_set_losses(logits, spans, iou, out.valid, indices, GT)
        for term, weight in dict(loss_label=5.0, loss_span=10.0, loss_giou=1.0,
                                 loss_iou=1.0).items():
            torch.testing.assert_close(losses[f'{prefix}.{term}'], raw[term] * weight * factor)


def test_loss_without_any_gt_is_finite_and_connected():
    head = randomise_parameters(build()).train()
    out = head(**head_inputs())
    losses = head.loss(out, [torch.zeros(0, 2), torch.zeros(0, 2)])
    assert all(torch.isfinite(v) for v in losses.values())
    for prefix in ('enc', 'd0', 'd1'):
        assert losses[f'{prefix}.loss_label'] > 0
        for term in ('loss_span', 'loss_giou', 'loss_iou'):
            assert losses[f'{prefix}.{term}'] == 0
    sum(losses.values()).backward()
    # one sample without GT among others
    out = head(**head_inputs())
    losses = head.loss(out, [GT[0], torch.zeros(0, 2)])
    assert all(torch.isfinite(v) for v in losses.values()) and losses['d1.loss_span'] > 0


def test_invalid_queries_take_no_part_in_the_loss():
    head = randomise_parameters(build(num_queries=20)).eval()
    out = head(**head_inputs(lengths=(8, 4)))  # sample 1: 8 + 4 + 2 + 1 valid positions
    valid = out.valid
    assert valid[0].all() and int(valid[1].sum()) == 15
    losses = head.loss(out, GT)
    invalid = ~valid
    sel = dataclasses.replace(
        out.selection, cls_logits=out.selection.cls_logits.masked_fill(invalid, 30.0),
        iou_logits=out.selection.iou_logits.masked_fill(invalid, 30.0),
        spans=torch.where(invalid[..., None], torch.tensor([0.5, 0.4]), out.selection.spans))
    changed = dataclasses.replace(
        out, cls_logits=out.cls_logits.masked_fill(invalid, 30.0),
        iou_logits=out.iou_logits.masked_fill(invalid, 30.0),
        spans=torch.where(invalid[..., None], torch.tensor([0.5, 0.4]), out.spans),
        selection=sel)
    for key, value in head.loss(changed, GT).items():
        torch.testing.assert_close(value, losses[key])


def test_query_groups_attend_only_within_themselves():
    head = randomise_parameters(build()).eval()
    x = head_inputs()
    plain = head(**x)
    a, b = make_group('a', 3, seed=1), make_group('b', 4, seed=2)
    out = head(**x, groups=[a, b])
    torch.testing.assert_close(out.cls_logits, plain.cls_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.spans, plain.spans, atol=1e-5, rtol=1e-5)
    (ga, cls_a, spans_a), (gb, cls_b, spans_b) = out.groups
    assert ga is a and gb is b
    assert cls_a.shape == (2, 2, 3) and spans_b.shape == (2, 2, 4, 2)
    # changing group a's queries changes a only
    moved = QueryGroup(**{**a.__dict__, 'content': a.content + 1})
    again = head(**x, groups=[moved, b])
    torch.testing.assert_close(again.cls_logits, plain.cls_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(again.groups[1][1], cls_b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(again.groups[1][2], spans_b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(again.groups[0][1], cls_a)
    # and the main queries do not reach the groups: group b alone gives the same
    alone = head(**x, groups=[b])
    torch.testing.assert_close(alone.groups[0][1], cls_b, atol=1e-5, rtol=1e-5)


def test_group_losses_are_named_and_weighted():
    head = randomise_parameters(build()).train()
    labels = torch.tensor([[1., 1., 0.], [1., 0., 0.]])
    group = make_group('collab', 3, seed=4, labels=labels)
    group.valid[1, 2] = False
    out = head(**head_inputs(), groups=[group])
    losses = head.loss(out, GT)
    for layer in ('d0', 'd1'):
        for term in ('loss_label', 'loss_span', 'loss_giou'):
            assert torch.isfinite(losses[f'collab.{layer}.{term}'])
    _, cls, spans = out.groups[0]
    raw = group_losses(group, cls[1], spans[1])
    # the group weight (0.5) and the layer term weights
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        cls[1][group.valid], labels[group.valid]) * 0.5
    torch.testing.assert_close(raw['loss_label'], expected)
    torch.testing.assert_close(losses['collab.d1.loss_label'], raw['loss_label'] * 5.0)
    positive = group.valid & (labels > 0)
    l1 = (span_cxw_to_xx(spans[1][positive]) - span_cxw_to_xx(group.target_spans[positive]))
    torch.testing.assert_close(raw['loss_span'], l1.abs().mean() * 0.5)


def test_gradients_reach_every_parameter():
    head = without_drop_path(randomise_parameters(build()))
    head.train()
    x = head_inputs()
    group = make_group('collab', 3, seed=5)
    samples = AnchorSamples(features=torch.randn(2, 3, H), spans=torch.rand(2, 3, 2) * 0.5 + 0.2,
                            valid=group.valid, labels=group.labels,
                            target_spans=group.target_spans)
    out = head(**x, groups=[head.collaborative_group(samples)])
    assert_gradients_reach(head, sum(head.loss(out, GT).values()))


def test_without_iou_head():
    head = build(with_iou_head=False).eval()
    out = head(**head_inputs())
    assert out.iou_logits is None and not head.with_iou_head
    losses = head.loss(out, GT)
    assert not any(k.endswith('loss_iou') for k in losses)
    pred = head.predict(out)
    torch.testing.assert_close(pred.ious, pred.probs)


def test_predict_reads_the_last_layer():
    head = randomise_parameters(build()).eval()
    out = head(**head_inputs())
    pred = head.predict(out)
    assert isinstance(pred, DETRPredictions)
    torch.testing.assert_close(pred.spans, out.spans[-1])
    torch.testing.assert_close(pred.probs, out.cls_logits[-1].sigmoid())
    torch.testing.assert_close(pred.ious, out.iou_logits[-1].sigmoid())


@pytest.mark.parametrize('prior', [0.35, 0.1])
def test_class_prior_initialisation(prior):
    head = build(prior_prob=prior)
    torch.testing.assert_close(head.cls_head.bias.sigmoid(), torch.tensor([prior]))
    assert head.collab_proj is not None and head.collaborative
    assert build(collaborative=False).collab_proj is None
    assert isinstance(head, SpanDETRHead)


def test_matched_set_losses_hand_computed():
    cls = torch.tensor([[0.0, 1.0, -1.0, 5.0]])
    spans = torch.tensor([[[0.5, 0.4], [0.2, 0.1], [0.8, 0.2], [0.5, 0.5]]])
    iou_logits = torch.tensor([[0.3, 0.0, 0.0, 0.0]])
    valid = torch.tensor([[True, True, True, False]])
    indices = torch.tensor([[0, -1, -1, -1]])
    gt = [torch.tensor([[0.5, 0.2]])]
    terms = matched_set_losses(cls, spans, iou_logits, valid, indices, gt, background_weight=0.1)
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731  BCE(x, 0); BCE(x, 1) = softplus(-x)
    label = (softplus(-0.0) + 0.1 * softplus(1.0) + 0.1 * softplus(-1.0)) / 3
    torch.testing.assert_close(terms['loss_label'], torch.tensor(label))
    # smooth L1 (beta 1) on (centre, width): |0| and |0.2| -> (0 + 0.02) / 2
    torch.testing.assert_close(terms['loss_span'], torch.tensor(0.01))
    # [0.3, 0.7] vs [0.4, 0.6]: IoU 0.5, GIoU 0.5
    torch.testing.assert_close(terms['loss_giou'], torch.tensor(0.5))
    iou = 0.5 * softplus(-0.3) + 0.5 * softplus(0.3)  # BCE against the IoU 0.5
    torch.testing.assert_close(terms['loss_iou'], torch.tensor(iou))
