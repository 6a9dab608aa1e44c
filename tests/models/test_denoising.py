"""SpanDenoisingQueries: contrastive denoising groups of noised GT spans."""
import pytest
import torch

from sgdetr.models.heads import SpanDenoisingQueries
from sgdetr.registry import TASK_UTILS
from sgdetr.structures import span_cxw_to_xx

H = 8
# spans far from 0 and 1, so that no noised end is clamped
GT = [torch.tensor([[0.3, 0.1], [0.6, 0.2], [0.5, 0.15]]), torch.tensor([[0.45, 0.2]])]


def build(**kwargs):
    return TASK_UTILS.build(dict(type='SpanDenoisingQueries', **kwargs))


@pytest.mark.parametrize('num_queries, max_gt, groups', [(300, 3, 50), (300, 1, 150),
                                                         (300, 200, 1), (20, 3, 3)])
def test_number_of_groups(num_queries, max_gt, groups):
    gt = [torch.tensor([[0.5, 0.2]]).repeat(max_gt, 1)]
    group = build(num_queries=num_queries)(gt, torch.zeros(H), 1)
    assert group.block_size == 2 * max_gt
    assert group.size == groups * 2 * max_gt and group.blocks == [2 * max_gt] * groups
    assert groups == max(1, num_queries // (2 * max_gt))


def test_layout_labels_and_padding():
    torch.manual_seed(0)
    content = torch.randn(H)
    group = build(num_queries=24)(GT, content, 2)
    K, G = 3, 4
    assert group.name == 'dn' and group.span_loss == 'smooth_l1_cxw' and group.loss_weight == 0.5
    assert group.content.shape == (2, G * 2 * K, H) and (group.content == content).all()
    assert group.reference.shape == (2, G * 2 * K, 2)
    blocks = lambda x: x.reshape(2, G, 2, K, *x.shape[2:])  # noqa: E731  (B, G, pos/neg, K)
    labels, valid, targets = blocks(group.labels), blocks(group.valid), blocks(group.target_spans)
    assert (labels[:, :, 0] == 1).all() and (labels[:, :, 1] == 0).all()
    assert valid[0].all()
    assert valid[1, :, :, 0].all() and not valid[1, :, :, 1:].any()  # sample 1 has one GT
    for b, gt in enumerate(GT):
        torch.testing.assert_close(targets[b, :, :, :len(gt)],
                                   gt.expand(G, 2, -1, -1))


def test_positives_stay_within_half_a_width_negatives_move_farther():
    torch.manual_seed(1)
    noise_scale, offset = 0.5, 1.25
    group = build(num_queries=600, noise_scale=noise_scale, negative_offset=offset)(
        GT, torch.zeros(H), 2)
    K, G = 3, 100
    noised = span_cxw_to_xx(group.reference.sigmoid()).reshape(2, G, 2, K, 2)
    for b, gt in enumerate(GT):
        gt_xx = span_cxw_to_xx(gt)
        half = gt[:, 1:] / 2 * noise_scale  # (k, 1): the noise unit of each GT
        moved = (noised[b, :, :, :len(gt)] - gt_xx).abs() / half  # (G, 2, k, 2) in units
        positives, negatives = moved[:, 0], moved[:, 1]
        tol = 1e-3
        assert positives.max() < 1 + tol
        assert negatives.min() > offset - tol and negatives.max() < 1 + offset + tol
        # the displacements cover their ranges
        assert positives.min() < 0.05 and positives.max() > 0.95
        assert negatives.min() < offset + 0.05 and negatives.max() > offset + 0.95
        # both directions
        signs = torch.sign(noised[b, :, :, :len(gt)] - gt_xx)
        assert (signs > 0).any() and (signs < 0).any()


def test_noised_spans_are_clamped_to_the_video():
    torch.manual_seed(2)
    gt = [torch.tensor([[0.05, 0.1], [0.95, 0.1]])]
    group = build(num_queries=400)(gt, torch.zeros(H), 1)
    xx = span_cxw_to_xx(group.reference.sigmoid())
    assert xx.min() >= -1e-3 and xx.max() <= 1 + 1e-3


def test_no_gt_gives_no_group():
    assert build()([torch.zeros(0, 2), torch.zeros(0, 2)], torch.zeros(H), 2) is None
    assert isinstance(build(), SpanDenoisingQueries)
