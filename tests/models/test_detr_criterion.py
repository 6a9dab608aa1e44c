import math

import torch

from sgdetr.models.heads.detr import SpanQueryCriterion
from sgdetr.structures import lift_spans

LOSSES = dict(
    loss_cls=dict(type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                  loss_weight=5.0),
    loss_span_l1=dict(type='mmdet.L1Loss', loss_weight=10.0),
    loss_giou=dict(type='mmdet.GIoULoss', loss_weight=1.0),
    loss_iou=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0))


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def case():
    """q0 -> GT 0, q1 background, q2 padding; one GT (cxw 0.4, 0.4)."""
    cls_logits = torch.tensor([[1.0, -1.0, 5.0]])
    spans = torch.tensor([[[0.5, 0.4], [0.1, 0.1], [0.9, 0.1]]])
    iou_logits = torch.tensor([[0.0, 3.0, 3.0]])
    gt_indices = torch.tensor([[0, -1, 0]])
    valid = torch.tensor([[True, True, False]])
    return cls_logits, spans, iou_logits, gt_indices, valid, [torch.tensor([[0.2, 0.6]])]


def test_losses_equal_hand_computed_values():
    losses = SpanQueryCriterion(**LOSSES)(*case())
    p_fg, p_bg = sigmoid(1.0), sigmoid(-1.0)
    focal = (-0.25 * (1 - p_fg) ** 2 * math.log(p_fg)
             - 0.75 * p_bg ** 2 * math.log(1 - p_bg))
    expected = dict(
        loss_cls=5.0 * focal,  # one positive
        loss_span_l1=10.0 * 0.1,  # |0.5 - 0.4| + |0.4 - 0.4|
        loss_giou=1.0 - 0.6,  # [0.3, 0.7] vs [0.2, 0.6]: IoU 0.3 / 0.5, enclose = union
        # Every valid query: q0 (logit 0, target IoU 0.6: BCE log 2 whatever the
        # target) and the background q1 (logit 3, best IoU with any GT 0).
        loss_iou=(math.log(2.0) + math.log1p(math.exp(3.0))) / 2)
    assert set(losses) == set(expected)
    for key, value in expected.items():
        assert abs(losses[key].item() - value) < 1e-5, key


def test_normalised_by_positives_and_iou_target_detached():
    cls_logits, spans, iou_logits, gt_indices, valid, gt = case()
    # Two identical positives: every loss stays the same (average over 2).
    cls_logits = torch.cat((cls_logits[:, :1], cls_logits), 1)
    spans = torch.cat((spans[:, :1], spans), 1).requires_grad_()
    iou_logits = torch.cat((iou_logits[:, :1], iou_logits), 1).requires_grad_()
    gt_indices = torch.cat((gt_indices[:, :1], gt_indices), 1)
    valid = torch.cat((valid[:, :1], valid), 1)
    one = SpanQueryCriterion(**LOSSES)(*case())
    two = SpanQueryCriterion(**LOSSES)(cls_logits, spans, iou_logits, gt_indices,
                                       valid, gt)
    for key in ('loss_span_l1', 'loss_giou'):
        assert abs(one[key].item() - two[key].item()) < 1e-5
    # The IoU loss averages over the valid queries: now q0 twice and q1.
    assert abs(two['loss_iou'].item()
               - (2 * math.log(2.0) + math.log1p(math.exp(3.0))) / 3) < 1e-5
    # The IoU loss trains the IoU head only, never the span it judges.
    two['loss_iou'].backward()
    assert iou_logits.grad.abs().sum() > 0
    assert spans.grad is None or spans.grad.abs().sum() == 0


def test_iou_targets_cover_unmatched_queries():
    spans = torch.tensor([[[0.4, 0.4], [0.45, 0.3], [0.9, 0.1]],
                          [[0.5, 0.2], [0.5, 0.2], [0.5, 0.2]]])
    gt_spans = [torch.tensor([[0.2, 0.6], [0.8, 1.0]]), torch.zeros(0, 2)]
    gt = torch.nn.utils.rnn.pad_sequence(gt_spans, batch_first=True)
    targets = SpanQueryCriterion.iou_targets(
        spans, torch.tensor([[0, -1, -1], [-1, -1, -1]]), gt_spans, gt)
    # q0 assigned GT 0: IoU 1; q1 unmatched, best GT 0: [0.3, 0.6] in [0.2, 0.6]
    # -> 0.75; q2 [0.85, 0.95] inside GT 1 -> 0.5; no GT in sample 1 -> 0.
    assert torch.allclose(targets, torch.tensor([[1.0, 0.75, 0.5], [0.0, 0.0, 0.0]]),
                          atol=1e-6)


def test_background_only_and_no_iou_head():
    criterion = SpanQueryCriterion(**dict(LOSSES, loss_iou=None))
    losses = criterion(torch.tensor([[0.0, 0.0]]), torch.rand(1, 2, 2) * 0.5,
                       torch.zeros(1, 2), torch.tensor([[-1, -1]]),
                       torch.ones(1, 2, dtype=torch.bool), [torch.zeros(0, 2)])
    assert set(losses) == {'loss_cls', 'loss_span_l1', 'loss_giou'}
    assert losses['loss_span_l1'].item() == 0 and losses['loss_giou'].item() == 0
    # Normalised by max(1, positives): 2 queries at p=0.5, background target.
    assert abs(losses['loss_cls'].item() - 5.0 * 2 * 0.75 * 0.25 * math.log(2)) < 1e-5


def test_unit_height_boxes_keep_span_iou():
    boxes = lift_spans(torch.tensor([[0.1, 0.4]]))
    assert torch.allclose(boxes, torch.tensor([[0.1, 0.0, 0.4, 1.0]]))
