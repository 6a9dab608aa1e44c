"""TemporalFeaturePyramid: four levels (x2, x1, /2, /4) of the detection memory."""
import pytest
import torch

from model_test_utils import assert_gradients_reach, fill_padding, length_mask
from sgdetr.models.encoders import TemporalFeaturePyramid

C = 16


def build(seed=0):
    torch.manual_seed(seed)
    pyramid = TemporalFeaturePyramid(C)
    # the released init (std 0.01) makes levels nearly constant; larger weights
    # make every comparison below meaningful
    with torch.no_grad():
        for p in pyramid.parameters():
            if p.dim() > 1:
                p.normal_(std=0.5)
    return pyramid.eval()


def test_level_lengths_and_masks():
    pyramid = build()
    memory, mask = torch.randn(2, 12, C), length_mask([12, 8])
    levels, masks = pyramid(memory, mask)
    assert [lvl.shape for lvl in levels] == [(2, 24, C), (2, 12, C), (2, 6, C), (2, 3, C)]
    assert [m.sum(1).tolist() for m in masks] == [[24, 16], [12, 8], [6, 4], [3, 2]]
    for level, m in zip(levels, masks):
        assert m.dtype == torch.bool and (level[~m] == 0).all()
        assert (level[m] != 0).any(-1).all()


def test_level_masks_valid_where_any_clip_below_is():
    masks = TemporalFeaturePyramid.level_masks(torch.tensor([[True] * 5 + [False] * 3]))
    assert masks[0][0].tolist() == [True] * 10 + [False] * 6
    assert masks[2][0].tolist() == [True, True, True, False]
    assert masks[3][0].tolist() == [True, True]


def test_length_must_be_a_multiple_of_four():
    pyramid = build()
    with pytest.raises(ValueError, match='multiple of 4'):
        pyramid(torch.randn(1, 10, C), torch.ones(1, 10, dtype=torch.bool))


@pytest.mark.parametrize('length', [4, 8, 12])
def test_video_alone_equals_the_video_in_a_padded_batch(length):
    pyramid = build()
    g = torch.Generator().manual_seed(length)
    longer = torch.randn(1, 20, C, generator=g)
    video = torch.randn(1, length, C, generator=g)
    alone, _ = pyramid(video, torch.ones(1, length, dtype=torch.bool))
    batch = torch.cat([longer, torch.cat([video, torch.zeros(1, 20 - length, C)], 1)])
    mask = length_mask([20, length])
    # whatever sits in the padding
    in_batch, masks = pyramid(fill_padding(batch, mask), mask)
    for single, level, m in zip(alone, in_batch, masks):
        n = single.shape[1]
        assert int(m[1].sum()) == n
        torch.testing.assert_close(level[1, :n], single[0], atol=1e-5, rtol=1e-5)


def test_every_level_sees_its_neighbourhood():
    # a change at clip 0 must reach nearby positions of every level, and only those
    pyramid = build()
    memory, mask = torch.randn(1, 16, C), torch.ones(1, 16, dtype=torch.bool)
    moved = memory.clone()
    moved[0, 0] += 1
    before, _ = pyramid(memory, mask)
    after, _ = pyramid(moved, mask)
    for level, (a, b) in enumerate(zip(before, after)):
        changed = (a - b).abs().amax(-1)[0] > 1e-6
        assert changed[0], level
        assert not changed[-1], level


def test_gradients_reach_every_parameter():
    pyramid = build().train()
    memory, mask = torch.randn(2, 8, C), length_mask([8, 4])
    levels, _ = pyramid(memory, mask)
    weights = [torch.randn(lvl.shape) for lvl in levels]
    assert_gradients_reach(pyramid, sum((w * lvl).sum() for w, lvl in zip(weights, levels)))
