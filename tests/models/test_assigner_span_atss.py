"""1D ATSS assignment through MMDetection's ATSSAssigner on lifted spans."""
import statistics

import pytest
import torch
from mmdet.models.task_modules import BboxOverlaps2D
from mmdet.models.task_modules.assigners.atss_assigner import \
    bbox_center_distance

from sgdetr.models.heads.atss.atss_targets import assign_anchors
from sgdetr.models.heads.atss.span_anchors import clip_anchors
from sgdetr.models.task_modules.span_atss_assigner import SpanATSSAssigner
from sgdetr.structures import lift_spans
from sgdetr.models.task_modules.span_overlaps import SpanOverlaps1D
from sgdetr.registry import TASK_UTILS
from sgdetr.structures.spans import span_giou, span_iou


def random_spans(n, generator, scale=10.0):
    start = torch.rand(n, generator=generator) * scale
    return torch.stack((start, start + 0.1 + torch.rand(n, generator=generator)
                        * scale), -1)


@pytest.mark.parametrize('mode', ['iou', 'giou'])
def test_1d_overlaps_equal_2d_overlaps_of_lifted_spans_bitwise(mode):
    g = torch.Generator().manual_seed(0)
    spans1, spans2 = random_spans(7, g), random_spans(5, g)
    ours = SpanOverlaps1D()(lift_spans(spans1), lift_spans(spans2), mode=mode)
    mmdet_2d = BboxOverlaps2D()(lift_spans(spans1), lift_spans(spans2), mode=mode)
    assert torch.equal(ours, mmdet_2d)
    reference = span_iou if mode == 'iou' else span_giou
    assert torch.equal(ours, reference(spans1, spans2))
    # (N, 2) spans are accepted too, and the aligned form
    assert torch.equal(SpanOverlaps1D()(spans1, spans2, mode=mode), ours)
    aligned = SpanOverlaps1D()(spans1[:5], spans2, mode=mode, is_aligned=True)
    assert torch.equal(aligned, ours[:5].diagonal())


def test_center_distance_of_lifted_spans_is_1d_distance_bitwise():
    g = torch.Generator().manual_seed(1)
    gts, anchors = random_spans(4, g), random_spans(9, g)
    distances = bbox_center_distance(lift_spans(gts), lift_spans(anchors))
    expected = ((anchors[:, 0] + anchors[:, 1]) / 2.0)[:, None] \
        - ((gts[:, 0] + gts[:, 1]) / 2.0)[None, :]
    assert torch.equal(distances, expected.abs())


def test_registered():
    assigner = TASK_UTILS.build(dict(type='SpanATSSAssigner', topk=3))
    assert isinstance(assigner, SpanATSSAssigner)
    assert isinstance(assigner._assigner.iou_calculator, SpanOverlaps1D)


def test_single_gt_hand_computed():
    # L = 8 clips, widths (1, 4), topk 3, GT [2.2, 6.0] (centre 4.1, length 3.8).
    # Closest centres: clip 4 (4.5), clip 3 (3.5), clip 5 (5.5) on both levels.
    # IoUs, width 1: [4,5] [3,4] [5,6] -> 1/3.8 = 0.2632 each;
    #       width 4: [2.5,6.5] 3.5/4.3 = 0.8140, [1.5,5.5] 3.3/4.5 = 0.7333,
    #                [3.5,7.5] 2.5/5.3 = 0.4717.
    # mean 0.4681 + unbiased std 0.2514 = 0.7195 -> width-4 anchors at clips
    # 4 and 3, both centred inside the GT.
    anchors = clip_anchors(8, (1, 4))
    assigned = SpanATSSAssigner(topk=3).assign(
        anchors.reshape(-1, 2), [8, 8], torch.tensor([[2.2, 6.0]]))
    expected = torch.full((2, 8), -1)
    expected[1, 3] = expected[1, 4] = 0
    assert torch.equal(assigned.view(2, 8), expected)


def test_anchor_claimed_by_two_gts_goes_to_the_higher_iou():
    # widths (1, 3), topk 3. GT0 [0, 2.5]: candidates clips {1, 0, 2};
    # IoUs w1: .4 .4 .1667, w3: [0,3] .8333, [-1,2] .5714, [1,4] .375;
    # threshold .4577 + .2246 = .6823 -> only [0, 3] (width 3 at clip 1).
    # GT1 [0.5, 2.5]: candidates clips {1, 0, 2}; IoUs w1: .5 .2 .2,
    # w3: .6667 .4286 .4286; threshold .4040 + .1804 = .5843 -> only [0, 3].
    # [0, 3] overlaps GT0 more (.8333 > .6667): it goes to GT0.
    assigned = SpanATSSAssigner(topk=3).assign(
        clip_anchors(8, (1, 3)).reshape(-1, 2), [8, 8],
        torch.tensor([[0.0, 2.5], [0.5, 2.5]]))
    expected = torch.full((2, 8), -1)
    expected[1, 1] = 0
    assert torch.equal(assigned.view(2, 8), expected)


def test_padded_clips_are_never_candidates_nor_assigned():
    # Sample 1 has 5 real clips of 8. GT [3.2, 5.0] (centre 4.1): among real
    # clips the closest centres are clips 4, 3, 2 (clip 5 is padding).
    # IoUs w1: [4,5] .5556, [3,4] .4, [2,3] 0; w4: [2.5,6.5] .45,
    # [1.5,5.5] .45, [0.5,4.5] .2889; threshold .3574 + .1953 = .5527
    # -> only the width-1 anchor at clip 4.
    anchors = clip_anchors(8, (1, 4))
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 5:] = False
    gts = [torch.tensor([[2.2, 6.0]]), torch.tensor([[3.2, 5.0]])]
    assigned = assign_anchors(SpanATSSAssigner(topk=3), anchors, mask, gts)
    expected = torch.full((2, 8), -1)
    expected[0, 4] = 0
    assert torch.equal(assigned[1], expected)
    assert (assigned[1, :, 5:] == -1).all()
    # the same as the sample on its own, unpadded
    alone = assign_anchors(SpanATSSAssigner(topk=3), clip_anchors(5, (1, 4)),
                           mask[1:, :5], gts[1:])
    assert torch.equal(assigned[1:, :, :5], alone)


def test_no_gt_leaves_everything_background():
    anchors = clip_anchors(6, (1, 2))
    assigned = assign_anchors(SpanATSSAssigner(), anchors,
                              torch.ones(2, 6, dtype=torch.bool),
                              [torch.zeros(0, 2), torch.zeros(0, 2)])
    assert (assigned == -1).all()


def reference_atss(num_clips, widths, gts, topk):
    """ATSS as its paper describes it, written plainly; None on near-ties."""
    anchors = [[(i + .5 - w / 2, i + .5 + w / 2) for i in range(num_clips)]
               for w in widths]

    def iou(a, b):
        inter = max(0., min(a[1], b[1]) - max(a[0], b[0]))
        return inter / (a[1] - a[0] + b[1] - b[0] - inter)

    best = {}
    for g, gt in enumerate(gts):
        centre = (gt[0] + gt[1]) / 2
        candidates = []
        for a in range(len(widths)):
            by_distance = sorted(range(num_clips),
                                 key=lambda i: abs(i + .5 - centre))
            d = [abs(i + .5 - centre) for i in by_distance]
            if topk < num_clips and abs(d[topk - 1] - d[topk]) < 1e-4:
                return None
            candidates += [(a, i) for i in by_distance[:topk]]
        ious = [iou(anchors[a][i], gt) for a, i in candidates]
        threshold = statistics.mean(ious) + statistics.stdev(ious)
        for (a, i), value in zip(candidates, ious):
            if abs(value - threshold) < 1e-4:
                return None
            inside = min(i + .5 - gt[0], gt[1] - i - .5) > 0.01
            if value >= threshold and inside and value > best.get((a, i), (-1,))[0]:
                best[(a, i)] = (value, g)
    assigned = torch.full((len(widths), num_clips), -1)
    for (a, i), (_, g) in best.items():
        assigned[a, i] = g
    return assigned


def test_matches_plain_reference_on_random_cases():
    g = torch.Generator().manual_seed(2)
    checked = 0
    for _ in range(30):
        gts = random_spans(3, g, scale=6.0)
        expected = reference_atss(12, (1, 2, 4), gts.double().tolist(), 3)
        if expected is None:
            continue
        assigned = SpanATSSAssigner(topk=3).assign(
            clip_anchors(12, (1, 2, 4)).reshape(-1, 2), [12] * 3, gts)
        assert torch.equal(assigned.view(3, 12), expected)
        checked += 1
    assert checked >= 20
