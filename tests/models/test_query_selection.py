"""MultiLevelQuerySelector: a proposal per pyramid position, the best Q become queries."""
import torch

import model_test_utils
from model_test_utils import assert_gradients_reach, length_mask
from sgdetr.models.heads import MultiLevelQuerySelector, QuerySelection
from sgdetr.models.layers import inverse_sigmoid

H = 16
WIDTHS = (0.05, 0.2, 0.4, 0.85)


def build(num_queries=6, seed=0, **kwargs):
    torch.manual_seed(seed)
    return MultiLevelQuerySelector(H, num_queries=num_queries, level_widths=WIDTHS,
                                   **kwargs).eval()


def pyramid_inputs(lengths, total, seed=0):
    return model_test_utils.pyramid_inputs(lengths, total, H, seed)


def test_proposal_centres_widths_and_validity():
    selector = build(min_size=0.0125, max_size=0.9875)
    masks = [length_mask([80, 8], total=80), length_mask([40, 4], total=40)]
    spans, valid = selector.proposals(masks)
    assert spans.shape == (2, 120, 2) and valid.shape == (2, 120)
    for b, counts in ((0, (80, 40)), (1, (8, 4))):
        torch.testing.assert_close(spans[b, :80, 0], (torch.arange(80) + 0.5) / counts[0])
        torch.testing.assert_close(spans[b, 80:, 0], (torch.arange(40) + 0.5) / counts[1])
        assert (spans[b, :80, 1] == WIDTHS[0]).all() and (spans[b, 80:, 1] == WIDTHS[1]).all()
    # centre 0.5 / 80 = 0.00625 and 79.5 / 80 = 0.99375 lie outside (0.0125, 0.9875)
    assert not valid[0, 0] and not valid[0, 79] and valid[0, 1:79].all()
    # the bounds are strict: 0.5 / 40 = 0.0125 itself is out
    assert not valid[0, 80] and not valid[0, 119] and valid[0, 81:119].all()
    # padded positions are never valid
    assert valid[1, :8].all() and not valid[1, 8:80].any()
    assert valid[1, 80:84].all() and not valid[1, 84:].any()
    # a level whose default width is out of bounds proposes nothing
    wide = MultiLevelQuerySelector(H, level_widths=(0.99, 0.2))
    _, valid = wide.proposals(masks)
    assert not valid[:, :80].any() and valid[0, 81:119].all()


def test_selects_the_best_valid_proposals():
    selector = build(num_queries=6)
    levels, masks = pyramid_inputs([16, 8], 16)
    out = selector(levels, masks)
    assert isinstance(out, QuerySelection)
    assert out.valid.all() and out.content.shape == (2, 6, H)
    assert out.reference.shape == out.spans.shape == (2, 6, 2)
    proposals, valid = selector.proposals(masks)
    features = selector.norm(selector.proj(torch.cat(levels, 1)))
    cls = selector.cls_head(features)[..., 0]
    iou = selector.iou_head(features)[..., 0]
    rank = (cls.sigmoid() * iou.sigmoid()).sqrt().masked_fill(~valid, -1)
    for b in range(2):
        index = rank[b].topk(6).indices
        torch.testing.assert_close(out.cls_logits[b], cls[b, index])
        torch.testing.assert_close(out.iou_logits[b], iou[b, index])
        torch.testing.assert_close(out.content[b], features[b, index])
        # the offset head starts at zero: references are the proposals
        torch.testing.assert_close(out.spans[b], proposals[b, index])
    torch.testing.assert_close(out.reference, inverse_sigmoid(out.spans))


def test_content_and_reference_are_detached_encoder_outputs_are_not():
    selector = build().train()
    levels, masks = pyramid_inputs([8], 8)
    for level in levels:
        level.requires_grad_(True)
    out = selector(levels, masks)
    assert not out.content.requires_grad and not out.reference.requires_grad
    loss = out.spans.sum() + out.cls_logits.sum() + out.iou_logits.sum()
    # the offset head ends in a zero layer, so its hidden layers wait a step
    assert_gradients_reach(selector, loss, allow_zero={
        'offset_head.layers.0.weight', 'offset_head.layers.0.bias',
        'offset_head.layers.2.weight', 'offset_head.layers.2.bias'})


def test_short_video_yields_invalid_slots():
    selector = build(num_queries=25)
    levels, masks = pyramid_inputs([4], 4)  # 8 + 4 + 2 + 1 = 15 positions
    out = selector(levels, masks)
    assert out.valid.shape == (1, 25)
    assert out.valid[0, :15].all() and not out.valid[0, 15:].any()
    for key in ('content', 'reference', 'spans', 'cls_logits', 'iou_logits'):
        value = getattr(out, key)
        assert value.shape[:2] == (1, 25) and torch.isfinite(value).all(), key
    # inside a batch with a longer video: as many valid slots, the same ones
    levels_b, masks_b = pyramid_inputs([16, 4], 16, seed=1)
    for k in range(4):
        n = levels[k].shape[1]
        levels_b[k][1, :n] = levels[k][0]
    batch = selector(levels_b, masks_b)
    assert batch.valid[0].all() and int(batch.valid[1].sum()) == 15
    for key in ('spans', 'cls_logits', 'content'):
        torch.testing.assert_close(getattr(batch, key)[1][batch.valid[1]],
                                   getattr(out, key)[0, :15])


def test_invalid_positions_are_never_selected_while_valid_ones_remain():
    selector = build(num_queries=6)
    levels, masks = pyramid_inputs([16, 8], 16)
    for level, mask in zip(levels, masks):
        level[~mask] = 100.0  # padded positions with extreme features
    out = selector(levels, masks)
    proposals, valid = selector.proposals(masks)
    assert out.valid.all()
    assert ((out.spans[1, :, 0] < 1) & (out.spans[1, :, 0] > 0)).all()
