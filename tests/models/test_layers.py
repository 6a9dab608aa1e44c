"""Building blocks: projection-free attention, FFN, MLP, self-attention layer, convolutions."""
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from model_test_utils import (assert_gradients_reach, fill_padding, length_mask,
                              without_drop_path)
from sgdetr.models.layers import (MLP, ConvNormStack, FeedForward, ProjectionFreeAttention,
                                  SelfAttentionLayer, SeparableConv1d, channel_norm, clones,
                                  inverse_sigmoid, masked_conv)
from sgdetr.models.layers.feed_forward import PRELU_SLOPE


def explicit_attention(attn, query, key, value, key_mask=None, attn_mask=None,
                       row_weights=None):
    """``out_proj(w_i * softmax(q k^T / sqrt(d_head)) v)``, head by head, written out."""
    batch, length, _ = query.shape
    heads = attn.num_heads
    d_key, d_value = query.shape[-1] // heads, value.shape[-1] // heads
    outputs = []
    for h in range(heads):
        q = query[..., h * d_key:(h + 1) * d_key]
        k = key[..., h * d_key:(h + 1) * d_key]
        v = value[..., h * d_value:(h + 1) * d_value]
        logits = q @ k.transpose(1, 2) / math.sqrt(d_key)  # (B, T, S)
        allowed = torch.ones_like(logits, dtype=torch.bool)
        if key_mask is not None:
            allowed = allowed & key_mask[:, None, :]
        if attn_mask is not None:
            allowed = allowed & (attn_mask if attn_mask.dim() == 3 else attn_mask[None])
        probs = logits.masked_fill(~allowed, float('-inf')).softmax(-1)
        if row_weights is not None:
            probs = probs * row_weights[..., None]
        outputs.append(probs @ v)
    return attn.out_proj(torch.cat(outputs, -1))


@pytest.mark.parametrize('value_dims', [None, 12])
def test_projection_free_attention_is_the_explicit_formula(value_dims):
    torch.manual_seed(0)
    attn = ProjectionFreeAttention(16, num_heads=4, value_dims=value_dims).eval()
    batch, length, keys = 2, 5, 6
    query, key = torch.randn(batch, length, 16), torch.randn(batch, keys, 16)
    value = torch.randn(batch, keys, value_dims or 16)
    key_mask = length_mask([6, 4])
    pair = torch.rand(batch, length, keys) > 0.3
    pair[..., 0] = True  # every row keeps a key
    row_weights = torch.rand(batch, length)
    for kwargs in (dict(), dict(key_mask=key_mask), dict(attn_mask=pair),
                   dict(attn_mask=pair[0]), dict(row_weights=row_weights),
                   dict(key_mask=key_mask, attn_mask=pair, row_weights=row_weights)):
        out = attn(query, key, value, **kwargs)
        assert out.shape == (batch, length, value_dims or 16)
        torch.testing.assert_close(out, explicit_attention(attn, query, key, value, **kwargs),
                                   atol=1e-5, rtol=1e-5)


def test_projection_free_attention_has_only_an_output_projection():
    attn = ProjectionFreeAttention(16, num_heads=2, value_dims=8)
    assert {n for n, _ in attn.named_parameters()} == {'out_proj.weight', 'out_proj.bias'}
    assert attn.out_proj.in_features == attn.out_proj.out_features == 8
    with pytest.raises(AssertionError):
        ProjectionFreeAttention(16, num_heads=3)


def test_masked_keys_never_change_the_output_and_get_no_gradient():
    torch.manual_seed(1)
    attn = ProjectionFreeAttention(8, num_heads=2).eval()
    query, key, value = torch.randn(2, 3, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    mask = length_mask([5, 3])
    out = attn(query, key, value, key_mask=mask)
    noisy = attn(query, fill_padding(key, mask), fill_padding(value, mask, seed=1),
                 key_mask=mask)
    torch.testing.assert_close(out, noisy)
    key.requires_grad_(True)
    attn(query, key, value, key_mask=mask).sum().backward()
    assert (key.grad[1, 3:] == 0).all() and (key.grad[1, :3] != 0).any()


def test_zero_row_weight_leaves_only_the_output_bias():
    attn = ProjectionFreeAttention(8, num_heads=2).eval()
    nn.init.normal_(attn.out_proj.bias)
    out = attn(torch.randn(1, 4, 8), torch.randn(1, 3, 8), torch.randn(1, 3, 8),
               row_weights=torch.tensor([[0., 1., 0., 1.]]))
    torch.testing.assert_close(out[0, 0], attn.out_proj.bias)
    torch.testing.assert_close(out[0, 2], attn.out_proj.bias)
    assert not torch.allclose(out[0, 1], attn.out_proj.bias)


def test_attention_dropout_only_in_training():
    torch.manual_seed(2)
    attn = ProjectionFreeAttention(8, num_heads=2, dropout=0.5)
    x = torch.randn(2, 6, 8)
    attn.eval()
    torch.testing.assert_close(attn(x, x, x), attn(x, x, x))
    attn.train()
    assert not torch.allclose(attn(x, x, x), attn(x, x, x))


def test_feed_forward_structure_init_and_gradients():
    torch.manual_seed(0)
    ffn = FeedForward(8, expansion=4, dropout=0.1)
    first, prelu, drop, last = ffn.layers
    assert isinstance(drop, nn.Dropout) and drop.p == 0.1
    assert [name for name, _ in ffn.named_parameters()] == [
        'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.3.weight', 'layers.3.bias']
    assert (first.in_features, first.out_features, last.out_features) == (8, 32, 8)
    assert isinstance(prelu, nn.PReLU) and prelu.weight.item() == PRELU_SLOPE
    assert (first.bias == 0).all() and (last.bias == 0).all()
    ffn.eval()
    x = torch.randn(3, 5, 8)
    hidden = first(x)
    expected = last(torch.where(hidden > 0, hidden, PRELU_SLOPE * hidden))
    torch.testing.assert_close(ffn(x), expected)
    ffn.train()
    assert_gradients_reach(ffn, ffn(x).pow(2).sum())


def test_mlp_layers_and_zero_last():
    torch.manual_seed(0)
    mlp = MLP(6, 16, 2, num_layers=3)
    linears = [m for m in mlp.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(6, 16), (16, 16), (16, 2)]
    assert sum(isinstance(m, nn.ReLU) for m in mlp.layers) == 2
    assert not isinstance(mlp.layers[-1], nn.ReLU)  # no activation after the last layer
    x = torch.randn(4, 6)
    expected = linears[2](F.relu(linears[1](F.relu(linears[0](x)))))
    torch.testing.assert_close(mlp(x), expected)
    assert (mlp(x) < 0).any()
    zero = MLP(6, 16, 2, num_layers=3, zero_last=True)
    assert (zero(torch.randn(7, 6)) == 0).all()
    assert (zero.layers[-1].weight == 0).all() and (zero.layers[0].weight != 0).any()
    # the zero layer still learns
    zero(x).sum().backward()
    assert zero.layers[-1].weight.grad.abs().sum() > 0


def test_self_attention_layer_masking_batch_and_gradients():
    torch.manual_seed(0)
    layer = SelfAttentionLayer(16, num_heads=4, dropout=0.1, drop_path=0.1)
    x, pos = torch.randn(2, 7, 16), torch.randn(2, 7, 16)
    mask = length_mask([7, 4])
    without_drop_path(layer).train()
    assert_gradients_reach(layer, layer(x, pos, mask)[mask].pow(2).sum())
    layer.eval()
    out = layer(x, pos, mask)
    assert out.shape == (2, 7, 16)
    noisy = layer(fill_padding(x, mask), fill_padding(pos, mask, seed=3), mask)
    torch.testing.assert_close(out[mask], noisy[mask], atol=1e-5, rtol=1e-5)
    alone = layer(x[1:, :4], pos[1:, :4], mask[1:, :4])
    torch.testing.assert_close(out[1, :4], alone[0], atol=1e-5, rtol=1e-5)
    # positions enter the queries and keys only: with one token, nothing to attend
    one = layer(x[:1, :1], pos[:1, :1])
    torch.testing.assert_close(one, layer(x[:1, :1], torch.randn(1, 1, 16)))


def test_separable_conv_shapes_and_depthwise_structure():
    conv = SeparableConv1d(6, stride=2)
    assert conv.depthwise.groups == 6 and conv.depthwise.bias is None
    assert conv.pointwise.bias is None and conv.pointwise.kernel_size == (1, )
    assert conv(torch.randn(2, 6, 8)).shape == (2, 6, 4)
    assert conv(torch.randn(2, 6, 7)).shape == (2, 6, 4)
    assert SeparableConv1d(6)(torch.randn(2, 6, 7)).shape == (2, 6, 7)
    # no bias: linear in its input
    x, y = torch.randn(1, 6, 8), torch.randn(1, 6, 8)
    torch.testing.assert_close(conv(x + 2 * y), conv(x) + 2 * conv(y), atol=1e-5, rtol=1e-5)


def test_conv_norm_stack_padding_and_batch_independence():
    torch.manual_seed(0)
    stack = ConvNormStack(8, num_layers=3)
    assert len(stack.convs) == len(stack.norms) == 3
    x = torch.randn(2, 8, 9)
    mask = length_mask([9, 5])[:, None].float()
    out = stack(x, mask)
    assert out.shape == (2, 8, 9) and (out[1, :, 5:] == 0).all()
    assert (out >= 0).all()  # ends in a ReLU
    noisy = stack(x + (1 - mask) * 1e3, mask)
    torch.testing.assert_close(out, noisy)
    alone = stack(x[1:, :, :5], torch.ones(1, 1, 5))
    torch.testing.assert_close(out[1:, :, :5], alone, atol=1e-5, rtol=1e-5)
    assert_gradients_reach(stack, (stack(x, mask) * torch.randn(2, 8, 9)).sum())


def test_channel_norm_and_masked_conv():
    norm = nn.LayerNorm(4)
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(channel_norm(norm, x), norm(x.transpose(1, 2)).transpose(1, 2))
    conv = nn.Conv1d(4, 3, 3, padding=1)
    mask = length_mask([5, 2])[:, None].float()
    torch.testing.assert_close(masked_conv(conv, x, mask), conv(x * mask))
    torch.testing.assert_close(masked_conv(conv, x, None), conv(x))


def test_inverse_sigmoid():
    x = torch.tensor([0.1, 0.5, 0.9])
    torch.testing.assert_close(inverse_sigmoid(x).sigmoid(), x)
    torch.testing.assert_close(inverse_sigmoid(torch.tensor([0.5])), torch.tensor([0.]))
    # clamped: finite at and beyond 0 and 1, bounded by log(1 / eps)
    edges = inverse_sigmoid(torch.tensor([-1., 0., 1., 2.]), eps=1e-3)
    bound = math.log(1 / 1e-3)
    torch.testing.assert_close(edges, torch.tensor([-bound, -bound, bound, bound]))


def test_clones_are_independent_deep_copies_that_start_equal():
    layer = nn.Linear(4, 4)
    stack = clones(layer, 3)
    assert len(stack) == 3 and isinstance(stack, nn.ModuleList)
    for copy in stack:
        assert copy is not layer
        torch.testing.assert_close(copy.weight, layer.weight)
        torch.testing.assert_close(copy.bias, layer.bias)
    with torch.no_grad():
        stack[0].weight.add_(1)
    assert not torch.equal(stack[0].weight, stack[1].weight)
    torch.testing.assert_close(stack[1].weight, layer.weight)
