"""ConditionalSpanDecoder: conditional-DETR layers refining a (centre, width) reference."""
import torch

from model_test_utils import (assert_gradients_reach, fill_padding, length_mask,
                              randomise_parameters, without_drop_path)
from sgdetr.models.heads import ConditionalSpanDecoder
from sgdetr.models.heads import block_diagonal_mask
from sgdetr.models.heads.detr.decoder import concat_heads
from sgdetr.models.layers import inverse_sigmoid

H, HEADS, Q, L = 16, 4, 5, 8


def build(num_layers=3, seed=0, with_iou_head=True):
    torch.manual_seed(seed)
    return ConditionalSpanDecoder(H, num_layers=num_layers, num_heads=HEADS,
                                  with_iou_head=with_iou_head)


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(query=torch.randn(2, Q, H, generator=g),
                reference=inverse_sigmoid(torch.rand(2, Q, 2, generator=g) * 0.6 + 0.2),
                query_valid=torch.ones(2, Q, dtype=torch.bool),
                memory=torch.randn(2, L, H, generator=g),
                memory_pos=torch.randn(2, L, H, generator=g),
                memory_mask=length_mask([8, 5]))


def test_output_shapes():
    hidden, references, iou = build().eval()(**inputs())
    assert hidden.shape == (3, 2, Q, H)
    assert references.shape == (3, 2, Q, 2) and iou.shape == (3, 2, Q)
    _, _, no_iou = build(with_iou_head=False).eval()(**inputs())
    assert no_iou is None


def test_layer_k_predicts_from_the_reference_refined_by_layer_k_minus_1():
    decoder = randomise_parameters(build()).eval()
    raw = []
    handles = [layer.register_forward_hook(lambda m, a, out: raw.append(out))
               for layer in decoder.layers]
    x = inputs()
    _, references, iou = decoder(**x)
    for handle in handles:
        handle.remove()
    ref = x['reference'].sigmoid()
    torch.testing.assert_close(references[0], ref)
    for k in range(1, 3):
        ref = (decoder.ref_refiner(raw[k - 1]) + inverse_sigmoid(ref)).sigmoid()
        torch.testing.assert_close(references[k], ref, atol=1e-6, rtol=1e-5)
        assert not torch.allclose(references[k], references[k - 1])
    # the IoU head reads the layer output and the sine of its refined reference
    last = (decoder.ref_refiner(raw[2]) + inverse_sigmoid(ref)).sigmoid()
    expected = decoder.iou_head(torch.cat([raw[2], decoder.embed(last)], -1))[..., 0]
    torch.testing.assert_close(iou[2], expected, atol=1e-6, rtol=1e-5)


def test_zero_refiner_keeps_the_initial_reference():
    decoder = build().eval()  # ref_refiner ends in a zero layer
    x = inputs()
    _, references, _ = decoder(**x)
    for k in range(3):
        torch.testing.assert_close(references[k], x['reference'].sigmoid())


def test_gradients_flow_through_refined_references():
    decoder = without_drop_path(randomise_parameters(build())).train()
    hidden, references, iou = decoder(**inputs())
    params = list(decoder.parameters())
    first = torch.autograd.grad(references[0].sum(), params, retain_graph=True,
                                allow_unused=True)
    assert all(g is None or (g == 0).all() for g in first)  # the input reference
    second = torch.autograd.grad(references[1].sum(), params, retain_graph=True,
                                 allow_unused=True)
    assert any(g is not None and (g != 0).any() for g in second)
    assert_gradients_reach(decoder, hidden.pow(2).sum() + references[1:].sum() + iou.sum())


def test_padded_memory_and_invalid_queries_change_nothing_valid():
    decoder = randomise_parameters(build()).eval()
    x = inputs()
    x['query_valid'] = torch.tensor([[True] * Q, [True, True, True, False, False]])
    hidden, references, iou = decoder(**x)
    valid = x['query_valid']
    noisy = dict(x, memory=fill_padding(x['memory'], x['memory_mask']),
                 memory_pos=fill_padding(x['memory_pos'], x['memory_mask'], seed=5),
                 query=fill_padding(x['query'], valid, seed=6),
                 reference=torch.where(valid[..., None], x['reference'], 3.0))
    hidden2, references2, iou2 = decoder(**noisy)
    torch.testing.assert_close(hidden2[:, valid], hidden[:, valid], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(references2[:, valid], references[:, valid])
    torch.testing.assert_close(iou2[:, valid], iou[:, valid], atol=1e-5, rtol=1e-5)
    # sample 1 alone, with its valid queries and clips only
    alone = decoder(query=x['query'][1:, :3], reference=x['reference'][1:, :3],
                    query_valid=valid[1:, :3], memory=x['memory'][1:, :5],
                    memory_pos=x['memory_pos'][1:, :5], memory_mask=x['memory_mask'][1:, :5])
    torch.testing.assert_close(alone[0][:, 0], hidden[:, 1, :3], atol=1e-5, rtol=1e-5)


def test_self_attention_mask_separates_blocks():
    decoder = randomise_parameters(build()).eval()
    x = inputs()
    mask = block_diagonal_mask([2, 3], 'cpu')
    hidden, _, _ = decoder(**x, self_attn_mask=mask)
    changed = x['query'].clone()
    changed[:, :2] += 1
    hidden2, _, _ = decoder(**dict(x, query=changed), self_attn_mask=mask)
    torch.testing.assert_close(hidden2[:, :, 2:], hidden[:, :, 2:])
    assert not torch.allclose(hidden2[:, :, :2], hidden[:, :, :2])
    hidden3, _, _ = decoder(**dict(x, query=changed))  # without the mask, queries mix
    assert not torch.allclose(hidden3[:, :, 2:], hidden[:, :, 2:])


def test_block_diagonal_mask_and_concat_heads():
    mask = block_diagonal_mask([1, 2], 'cpu')
    assert mask.tolist() == [[True, False, False], [False, True, True], [False, True, True]]
    content = torch.arange(8.).reshape(1, 1, 8)
    position = -torch.arange(8.).reshape(1, 1, 8)
    # 2 heads of 4: [content_h; position_h] per head
    assert concat_heads(content, position, 2)[0, 0].tolist() == \
        [0, 1, 2, 3, 0, -1, -2, -3, 4, 5, 6, 7, -4, -5, -6, -7]
