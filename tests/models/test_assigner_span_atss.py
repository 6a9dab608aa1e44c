"""Batched 1D ATSS assignment, against MMDetection's ATSSAssigner on lifted spans."""
import statistics

import pytest
import torch
from mmdet.models.task_modules import BboxOverlaps2D
from mmdet.models.task_modules.assigners.atss_assigner import \
    bbox_center_distance

from model_test_utils import length_mask, mmdet_atss
from sgdetr.models.heads.atss import level_anchors
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
    assert isinstance(assigner, SpanATSSAssigner) and assigner.topk == 3


def clip_anchors(num_clips, widths):
    """Anchors of the given widths centred on every clip: per level (L, 2)."""
    return level_anchors([num_clips] * len(widths), [1] * len(widths), [w + 1 for w in widths])


def assign_one(assigner, anchors, gts):
    """One sample whose anchors are all valid: (N,) over the concatenated levels."""
    masks = [torch.ones(1, len(a), dtype=torch.bool) for a in anchors]
    gts = torch.as_tensor(gts, dtype=torch.float32).reshape(1, -1, 2)
    return assigner.assign(anchors, masks, gts, torch.ones(gts.shape[:2], dtype=torch.bool))[0]


def test_single_gt_hand_computed():
    # L = 8 clips, widths (1, 4), topk 3, GT [2.2, 6.0] (centre 4.1, length 3.8).
    # Closest centres: clip 4 (4.5), clip 3 (3.5), clip 5 (5.5) on both levels.
    # IoUs, width 1: [4,5] [3,4] [5,6] -> 1/3.8 = 0.2632 each;
    #       width 4: [2.5,6.5] 3.5/4.3 = 0.8140, [1.5,5.5] 3.3/4.5 = 0.7333,
    #                [3.5,7.5] 2.5/5.3 = 0.4717.
    # mean 0.4681 + unbiased std 0.2514 = 0.7195 -> width-4 anchors at clips
    # 4 and 3, both centred inside the GT.
    assigned = assign_one(SpanATSSAssigner(topk=3), clip_anchors(8, (1, 4)), [[2.2, 6.0]])
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
    assigned = assign_one(SpanATSSAssigner(topk=3), clip_anchors(8, (1, 3)),
                          [[0.0, 2.5], [0.5, 2.5]])
    expected = torch.full((2, 8), -1)
    expected[1, 1] = 0
    assert torch.equal(assigned.view(2, 8), expected)


def test_no_gt_leaves_everything_background():
    assigned = assign_one(SpanATSSAssigner(), clip_anchors(6, (1, 2)), torch.zeros(0, 2))
    assert (assigned == -1).all() and assigned.shape == (12, )


def random_batch(generator, lengths, total, max_gts=4):
    """The released pyramid (strides 0.5-4, sizes 4-64) over videos of ``lengths``
    clips padded to ``total``, and GTs on half-unit boundaries, as QVHighlights'
    whole seconds give them: many GT centres are equidistant from two anchors."""
    shapes = (2 * total, total, total // 2, total // 4)
    anchors = level_anchors(shapes, (0.5, 1, 2, 4), (4, 16, 32, 64))
    masks = [length_mask([n * s // total for n in lengths], total=s) for s in shapes]
    gts = []
    for n in lengths:
        count = int(torch.randint(0, max_gts + 1, (1, ), generator=generator))
        start = torch.randint(0, 2 * n, (count, ), generator=generator).float() / 2
        end = torch.minimum(start + torch.randint(1, 2 * n, (count, ), generator=generator) / 2,
                            torch.tensor(float(n)))
        gts.append(torch.stack([torch.minimum(start, end - 0.5), end], -1))
    return anchors, masks, gts


@pytest.mark.parametrize('topk', [3, 12, 18])
def test_batch_equals_mmdetection_sample_by_sample(topk):
    """Mixed lengths, padding, samples without GT, equidistant candidates: every
    sample is assigned exactly as MMDetection's assigner assigns it alone."""
    g = torch.Generator().manual_seed(topk)
    compared = 0
    for _ in range(25):
        total = 4 * int(torch.randint(1, 30, (1, ), generator=g))
        lengths = [total] + [4 * int(torch.randint(1, total // 4 + 1, (1, ), generator=g))
                             for _ in range(int(torch.randint(0, 5, (1, ), generator=g)))]
        anchors, masks, gts = random_batch(g, lengths, total)
        padded = torch.nn.utils.rnn.pad_sequence(gts, batch_first=True)
        gt_valid = length_mask([len(x) for x in gts], total=padded.shape[1])
        assigned = SpanATSSAssigner(topk).assign(anchors, masks, padded, gt_valid)
        valid = torch.cat(masks, 1)
        assert (assigned[~valid] == -1).all()
        for b, gt in enumerate(gts):
            expected = mmdet_atss(topk, torch.cat(anchors)[valid[b]],
                                  [int(m[b].sum()) for m in masks], gt)
            assert torch.equal(assigned[b][valid[b]], expected), (lengths[b], total)
            compared += int((expected >= 0).sum())
    assert compared > 100  # positives were compared, not only background


def reference_atss(anchors_per_level, gts, topk):
    """ATSS as its paper describes it, written plainly; None on near-ties.

    Per GT: on every level the ``topk`` anchors whose centres are closest to
    the GT centre; positives among them reach mean + std (unbiased) of their
    IoUs and have their centre inside the GT (by more than 0.01); an anchor
    claimed by several GTs goes to the one it overlaps most.
    """
    def iou(a, b):
        inter = max(0., min(a[1], b[1]) - max(a[0], b[0]))
        return inter / (a[1] - a[0] + b[1] - b[0] - inter)

    offsets = [0]
    for level in anchors_per_level:
        offsets.append(offsets[-1] + len(level))
    best = {}
    for g, gt in enumerate(gts):
        centre = (gt[0] + gt[1]) / 2
        candidates = []
        for level, anchors in enumerate(anchors_per_level):
            distance = [abs((a[0] + a[1]) / 2 - centre) for a in anchors]
            order = sorted(range(len(anchors)), key=lambda i: distance[i])
            k = min(topk, len(anchors))
            if k < len(anchors) and abs(distance[order[k - 1]] - distance[order[k]]) < 1e-4:
                return None
            candidates += [offsets[level] + i for i in order[:k]]
        flat = [a for level in anchors_per_level for a in level]
        ious = [iou(flat[i], gt) for i in candidates]
        threshold = statistics.mean(ious) + statistics.stdev(ious)
        for i, value in zip(candidates, ious):
            if abs(value - threshold) < 1e-4:
                return None
            anchor_centre = (flat[i][0] + flat[i][1]) / 2
            inside = min(anchor_centre - gt[0], gt[1] - anchor_centre) > 0.01
            if value >= threshold and inside:
                if i in best and abs(best[i][0] - value) < 1e-6:
                    return None
                if value > best.get(i, (-1, ))[0]:
                    best[i] = (value, g)
    assigned = torch.full((offsets[-1], ), -1)
    for i, (_, g) in best.items():
        assigned[i] = g
    return assigned


@pytest.mark.parametrize('levels', [
    dict(lengths=[12, 12, 12], strides=[1, 1, 1], sizes=[2, 3, 5]),
    # the released layout: x2, x1, /2, /4 levels with sizes (4, 16, 32, 64)
    dict(lengths=[48, 24, 12, 6], strides=[0.5, 1, 2, 4], sizes=[4, 16, 32, 64]),
], ids=['clip-levels', 'pyramid-levels'])
def test_matches_plain_reference_on_random_cases(levels):
    g = torch.Generator().manual_seed(2)
    anchors = level_anchors(**levels)
    total = levels['lengths'][1]
    checked = 0
    for _ in range(30):
        gts = random_spans(int(torch.randint(1, 5, (1, ), generator=g)), g,
                           scale=total / 2)
        expected = reference_atss([a.double().tolist() for a in anchors],
                                  gts.double().tolist(), topk=3 if total < 20 else 12)
        if expected is None:
            continue
        assigned = assign_one(SpanATSSAssigner(topk=3 if total < 20 else 12), anchors, gts)
        assert torch.equal(assigned, expected)
        checked += 1
    assert checked >= 20
