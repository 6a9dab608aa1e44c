import torch

from sgdetr.models.heads.detr import (SpanDenoisingGenerator, SpanDINOHead,
                                      group_attention_mask)
from sgdetr.models.layers import QueryGroup
from sgdetr.structures import span_cxw_to_xx

GT = [torch.tensor([[0.4, 0.6], [0.1, 0.3]]), torch.tensor([[0.5, 0.9]])]


def test_groups_layout_targets_and_padding():
    torch.manual_seed(0)
    groups = SpanDenoisingGenerator(num_groups=3, noise_scale=0.5)(GT)
    assert len(groups) == 3 and all(g.name == 'dn' for g in groups)
    for g in groups:
        assert g.ref_spans.shape == (2, 4, 2)
        # [positives | negatives], each padded to the largest GT count (2).
        assert g.gt_indices.tolist() == [[0, 1, -1, -1], [0, -1, -1, -1]]
        assert g.valid.tolist() == [[True] * 4, [True, False, True, False]]
        assert g.content is None
    assert not torch.equal(groups[0].ref_spans, groups[1].ref_spans)


def test_positive_and_negative_noise_magnitudes():
    torch.manual_seed(0)
    gt = [torch.tensor([[0.4, 0.6]])]  # half-width 0.1, far from the borders
    groups = SpanDenoisingGenerator(num_groups=50, noise_scale=0.5)(gt)
    spans = span_cxw_to_xx(torch.stack([g.ref_spans[0] for g in groups]))  # (N, 2, 2)
    shift = (spans - gt[0]).abs()
    assert (shift[:, 0] < 0.05 + 1e-6).all()  # positives: < scale * half-width
    assert (shift[:, 1] >= 0.05 - 1e-6).all() and (shift[:, 1] < 0.1 + 1e-6).all()


def test_no_gt_no_groups():
    assert SpanDenoisingGenerator()([torch.zeros(0, 2), torch.zeros(0, 2)]) == []


def test_attention_mask_blocks_and_padding():
    valid = [torch.ones(1, 2, dtype=torch.bool), torch.tensor([[True, False]]),
             torch.tensor([[True, True, True]])]
    mask = group_attention_mask(valid)[0].int()
    expected = torch.tensor([
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0],  # a group's real queries never see its padding
        [0, 0, 1, 1, 0, 0, 0],  # padding (output unused) sees its group and itself
        [0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 1, 1, 1]])
    assert torch.equal(mask, expected)


def small_head(**kwargs):
    torch.manual_seed(0)
    return SpanDINOHead(hidden_dim=16, num_queries=3, num_heads=2, ffn_dim=32,
                        **kwargs).eval()


def test_groups_cannot_influence_each_other():
    head = small_head()
    memory, pos = torch.randn(2, 6, 16), torch.randn(2, 6, 16)
    mask = torch.ones(2, 6, dtype=torch.bool)
    torch.manual_seed(1)
    groups = SpanDenoisingGenerator(num_groups=2)(GT)
    other = QueryGroup('atss', torch.rand(2, 3, 2) * 0.5 + 0.2,
                       torch.zeros(2, 3, dtype=torch.long),
                       torch.tensor([[True, True, False], [True, True, True]]))
    groups.append(other)
    _, before = head(memory, mask, pos, groups)
    _, alone = head(memory, mask, pos)

    # Moving group 0's references and padding group 2's padding query's
    # content changes group 0 and nothing else.
    groups[0].ref_spans = groups[0].ref_spans.flip(1)
    other.content = torch.randn(2, 3, 16)
    other.content[:, :2] = head.group_content.weight
    other.content[1, 2] = head.group_content.weight
    _, after = head(memory, mask, pos, groups)

    for key in ('cls_logits', 'spans', 'iou_logits'):
        assert torch.allclose(before[0][key], alone[0][key], atol=1e-6)
        assert torch.allclose(before[0][key], after[0][key], atol=1e-6)
        assert not torch.allclose(before[1][key], after[1][key])
        assert torch.allclose(before[2][key], after[2][key], atol=1e-6)
        real = other.valid
        assert torch.allclose(before[3][key][:, real], after[3][key][:, real], atol=1e-6)
