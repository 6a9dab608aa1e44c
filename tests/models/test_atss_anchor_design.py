"""Why the ATSS head puts several anchor widths on every clip (one level)
rather than one anchor per cell of a strided pyramid; run with -s for numbers."""
import torch

from sgdetr.models.heads.atss.span_anchors import clip_anchors
from sgdetr.models.task_modules.span_atss_assigner import SpanATSSAssigner
from sgdetr.structures.spans import span_iou

NUM_CLIPS = 75


def pyramid_anchors(strides, width_per_stride):
    levels = []
    for stride in strides:
        centres = (torch.arange(-(-NUM_CLIPS // stride)) + 0.5) * stride
        half = width_per_stride * stride / 2
        levels.append(torch.stack((centres - half, centres + half), -1))
    return levels


def assignment_stats(levels, moments):
    anchors, counts = torch.cat(levels), [len(level) for level in levels]
    assigner = SpanATSSAssigner(topk=9)
    positives, ious = [], []
    for moment in moments:
        positive = assigner.assign(anchors, counts, moment[None]) >= 0
        positives.append(positive.sum().item())
        ious.append(span_iou(anchors[positive], moment[None]).mean().item())
    return torch.tensor(positives).float(), torch.tensor(ious)


def test_one_level_of_widths_gives_more_and_better_positives():
    g = torch.Generator().manual_seed(0)
    lengths = torch.exp(torch.rand(150, generator=g)
                        * torch.log(torch.tensor(float(NUM_CLIPS))))
    starts = torch.rand(150, generator=g) * (NUM_CLIPS - lengths)
    moments = torch.stack((starts, starts + lengths), -1)
    one_level = list(clip_anchors(NUM_CLIPS, (1, 2, 4, 8, 16, 32, 64)))
    pyramid = pyramid_anchors((1, 2, 4, 8, 16, 32), 2)
    pos_one, iou_one = assignment_stats(one_level, moments)
    pos_pyr, iou_pyr = assignment_stats(pyramid, moments)
    print(f'\none level x 7 widths: {pos_one.mean():.1f} positives/moment, '
          f'mean IoU {iou_one.mean():.3f}; pyramid: {pos_pyr.mean():.1f}, '
          f'{iou_pyr.mean():.3f}')
    assert (pos_one > 0).all() and (pos_pyr > 0).all()
    assert pos_one.mean() > 1.5 * pos_pyr.mean()
    assert iou_one.mean() > iou_pyr.mean() + 0.05
