"""PoolingEncoder / AttentionPooling."""
import torch

from sgdetr.models.encoders import AttentionPooling, PoolingEncoder, masked_mean
from sgdetr.registry import MODELS


def _perturb(module, std=0.5):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * std)


def test_untrained_is_exact_mean_pooling():
    torch.manual_seed(0)
    enc = MODELS.build(dict(type='PoolingEncoder', embed_dims=6, key_dims=4, num_heads=2))
    tokens = torch.randn(2, 4, 6)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    out = enc(tokens, mask)
    assert out.shape == (2, 6)
    assert torch.allclose(out[0], tokens[0].mean(0), atol=1e-6)
    assert torch.allclose(out[1], tokens[1, :2].mean(0), atol=1e-6)


def test_padding_never_changes_the_sentence():
    torch.manual_seed(0)
    enc = PoolingEncoder(6, num_layers=2, key_dims=4, num_heads=2)
    _perturb(enc)
    tokens = torch.randn(1, 3, 6)
    padded = torch.cat((tokens, 50 * torch.randn(1, 2, 6)), 1)
    mask = torch.tensor([[True, True, True, False, False]])
    assert torch.allclose(enc(padded, mask), enc(tokens, torch.ones(1, 3, dtype=torch.bool)),
                          atol=1e-5)


def test_output_is_a_convex_combination_of_the_tokens():
    torch.manual_seed(0)
    enc = PoolingEncoder(6, key_dims=4, num_heads=2)
    _perturb(enc)
    token = torch.randn(1, 1, 6)
    same = token.expand(1, 5, 6)
    assert torch.allclose(enc(same, torch.ones(1, 5, dtype=torch.bool)), token[0], atol=1e-5)


def test_attention_pooling_hand_computed():
    layer = AttentionPooling(embed_dims=2, key_dims=2, num_heads=1)
    with torch.no_grad():
        layer.query.weight.copy_(torch.eye(2))
        layer.key.weight.copy_(torch.eye(2))
        layer.query.bias.zero_()
        layer.key.bias.zero_()
    tokens = torch.tensor([[[1., 0.], [0., 1.], [5., 5.]]])
    sentence = torch.tensor([[2., 0.]])
    mask = torch.tensor([[True, True, False]])
    # logits = sentence . token / sqrt(2) = [2/sqrt2, 0] on the two valid tokens
    w = torch.softmax(torch.tensor([2 / 2**0.5, 0.]), 0)
    expected = w[0] * tokens[0, 0] + w[1] * tokens[0, 1]
    assert torch.allclose(layer(sentence, tokens, mask)[0], expected, atol=1e-6)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    enc = PoolingEncoder(6, key_dims=4, num_heads=2)
    _perturb(enc)  # zero-initialised query projections would zero the key gradients
    tokens = torch.randn(2, 4, 6)
    enc(tokens, torch.ones(2, 4, dtype=torch.bool)).pow(2).sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_masked_mean():
    x = torch.tensor([[[1.], [3.], [100.]]])
    assert masked_mean(x, torch.tensor([[True, True, False]])).item() == 2.
