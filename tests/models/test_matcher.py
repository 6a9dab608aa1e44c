import itertools

import torch
from mmengine.structures import InstanceData

from sgdetr.registry import TASK_UTILS
from sgdetr.structures import span_cxw_to_xx


def build_matcher(match_costs, iou_cost=None):
    return TASK_UTILS.build(dict(type='SpanHungarianMatcher',
                                 match_costs=match_costs, iou_cost=iou_cost))


def test_span_costs_hand_values():
    pred = InstanceData(spans=torch.tensor([[0.0, 0.4], [0.5, 0.7]]),
                        iou_scores=torch.tensor([0.3, 0.8]))
    gt = InstanceData(spans=torch.tensor([[0.1, 0.5]]))
    l1 = TASK_UTILS.build(dict(type='SpanL1Cost', weight=2.0))(pred, gt)
    # cxw: (0.2, 0.4), (0.6, 0.2) vs (0.3, 0.4).
    assert torch.allclose(l1, torch.tensor([[0.2], [1.0]]))
    giou = TASK_UTILS.build(dict(type='SpanIoUCost', iou_mode='giou'))(pred, gt)
    # [0,.4]&[.1,.5]: iou .3/.5; [.5,.7]&[.1,.5]: iou 0, enclose .6, union .6.
    assert torch.allclose(giou, torch.tensor([[-0.6], [0.0]]), atol=1e-6)
    iou = TASK_UTILS.build(dict(type='PredictedIoUCost', weight=2.0))(pred, gt)
    assert torch.allclose(iou, torch.tensor([[-0.6], [-1.6]]))


def test_predicted_iou_term_changes_the_assignment():
    # Query 0 is closer to the GT, query 1 is far more confident of its span.
    cls_logits = torch.zeros(1, 2)
    spans = torch.tensor([[[0.30, 0.70], [0.35, 0.75]]])
    gt = [torch.tensor([[0.30, 0.70]])]
    iou_scores = torch.tensor([[0.1, 0.9]])
    costs = [dict(type='mmdet.FocalLossCost', weight=5.0),
             dict(type='SpanL1Cost', weight=10.0),
             dict(type='SpanIoUCost', weight=1.0)]
    # By hand: class costs equal; L1 (cxw) 0 vs 10*0.05 = 0.5;
    # -GIoU -1 vs -0.35/0.45 = -0.778; IoU term -0.1 vs -0.9.
    # Without it: 0 - 1 = -1 < 0.5 - 0.778; with it: -1.1 > -1.178.
    without = build_matcher(costs)(cls_logits, spans, gt, iou_scores)
    with_iou = build_matcher(costs, dict(type='PredictedIoUCost', weight=1.0))(
        cls_logits, spans, gt, iou_scores)
    assert without.tolist() == [[0, -1]]
    assert with_iou.tolist() == [[-1, 0]]
    # Without predicted IoU (encoder proposals) the IoU cost is skipped.
    assert build_matcher(costs, dict(type='PredictedIoUCost'))(
        cls_logits, spans, gt).tolist() == [[0, -1]]


def brute_force(cost):
    """Optimal one-to-one assignment of the columns of a (Q, K) cost."""
    q, k = cost.shape
    best = min(itertools.permutations(range(q), k),
               key=lambda rows: sum(cost[r, c] for c, r in enumerate(rows)))
    indices = [-1] * q
    for c, r in enumerate(best):
        indices[r] = c
    return indices


def test_batch_matching_is_optimal_per_sample():
    torch.manual_seed(0)
    costs = [dict(type='mmdet.FocalLossCost', weight=5.0),
             dict(type='SpanL1Cost', weight=10.0),
             dict(type='SpanIoUCost', weight=1.0)]
    iou_cost = dict(type='PredictedIoUCost', weight=1.0)
    matcher = build_matcher(costs, iou_cost)
    cls_logits = torch.randn(3, 5)
    spans = span_cxw_to_xx(torch.rand(3, 5, 2) * 0.5 + 0.2)
    iou_scores = torch.rand(3, 5)
    gt = [span_cxw_to_xx(torch.rand(k, 2) * 0.5 + 0.2) for k in (2, 0, 3)]
    result = matcher(cls_logits, spans, gt, iou_scores)
    assert result.shape == (3, 5) and result.dtype == torch.long
    assert (result[1] == -1).all()
    singles = [TASK_UTILS.build(c) for c in costs + [iou_cost]]
    for b in (0, 2):
        pred = InstanceData(scores=cls_logits[b, :, None], spans=spans[b],
                            iou_scores=iou_scores[b])
        gts = InstanceData(spans=gt[b], labels=torch.zeros(len(gt[b]), dtype=torch.long))
        cost = sum(c(pred, gts) for c in singles)
        assert result[b].tolist() == brute_force(cost)


def test_stacked_sets_are_matched_each_on_its_own():
    """S sets of one batch's predictions stacked along the batch axis: one call gives
    what S calls give, each set against the batch's GT."""
    torch.manual_seed(1)
    matcher = build_matcher([dict(type='ProbabilityCost', weight=4.0),
                             dict(type='SpanL1Cost', weight=10.0),
                             dict(type='SpanIoUCost', weight=1.0)],
                            dict(type='PredictedIoUCost', weight=1.0))
    gt = [span_cxw_to_xx(torch.rand(k, 2) * 0.5 + 0.2) for k in (2, 0, 3)]
    sets = [(torch.randn(3, 6), span_cxw_to_xx(torch.rand(3, 6, 2) * 0.5 + 0.2),
             torch.rand(3, 6), torch.rand(3, 6) > 0.2) for _ in range(4)]
    stacked = matcher(*(torch.cat([s[0] for s in sets]), torch.cat([s[1] for s in sets])), gt,
                      torch.cat([s[2] for s in sets]), torch.cat([s[3] for s in sets]))
    for s, part in zip(sets, stacked.chunk(4)):
        assert torch.equal(part, matcher(s[0], s[1], gt, s[2], s[3]))
    assert not all(torch.equal(stacked.chunk(4)[0], p) for p in stacked.chunk(4)[1:])


def test_chunks_of_samples_match_as_the_whole_batch(monkeypatch):
    """Costs computed per chunk of samples (against the chunk's GTs only) give the
    assignment of one matrix over the whole batch: chunks of 3 and 4 samples, 2 sets,
    samples without GT and a whole chunk without GT."""
    from sgdetr.models.task_modules import matcher as matcher_module
    torch.manual_seed(2)
    matcher = build_matcher([dict(type='ProbabilityCost', weight=4.0),
                             dict(type='SpanL1Cost', weight=10.0),
                             dict(type='SpanIoUCost', weight=1.0)],
                            dict(type='PredictedIoUCost', weight=1.0))
    counts = (2, 0, 3, 0, 0, 0, 1, 4, 2, 1)
    gt = [span_cxw_to_xx(torch.rand(k, 2) * 0.5 + 0.2) for k in counts]
    args = (torch.randn(20, 6), span_cxw_to_xx(torch.rand(20, 6, 2) * 0.5 + 0.2), gt,
            torch.rand(20, 6), torch.rand(20, 6) > 0.2)
    results = []
    for size in (1000, 3, 4):
        monkeypatch.setattr(matcher_module, 'SAMPLES_PER_CHUNK', size)
        results.append(matcher(*args))
    assert torch.equal(results[1], results[0]) and torch.equal(results[2], results[0])
    for row in range(20):
        assigned = results[0][row][results[0][row] >= 0]
        assert len(set(assigned.tolist())) == len(assigned)  # one query per GT
        assert len(assigned) == min(counts[row % 10], int(args[4][row].sum()))
