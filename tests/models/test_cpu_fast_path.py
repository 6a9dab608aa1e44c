"""The CPU fast path computes what the standard modules compute."""
import math

import pytest
import torch

from model_test_utils import build_tiny_model, compute_losses, randomise_parameters, \
    training_batch, without_drop_path
from sgdetr.models.layers import (FeedForward, ProjectedAttention, ProjectionFreeAttention,
                                  attend, use_cpu_fast_path)
from sgdetr.models.layers.cpu_fast_path import keep_mask, packed_dropout


def _reference_attention(q, k, v, mask, keep, p):
    """softmax with -inf-free masking, dropped with ``keep``, written out."""
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return (logits.softmax(-1) * keep / (1 - p)) @ v


def test_keep_mask_keeps_with_the_right_probability():
    torch.manual_seed(0)
    for p in (0.1, 0.5):
        rate = keep_mask((400, 500), p).float().mean().item()
        assert abs(rate - (1 - p)) < 0.005, (p, rate)
    x = torch.ones(1000, 100)
    # unbiased: the mean is kept
    assert abs(packed_dropout(x, 0.3).mean().item() - 1.0) < 0.02
    assert packed_dropout(x, 0.0) is x and (packed_dropout(x, 1.0) == 0).all()


@pytest.mark.parametrize('autocast', [False, True])
def test_attention_dropout_is_the_formula_with_its_mask_and_gradients(autocast):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 5, 4, requires_grad=True) for _ in range(3))
    mask = torch.rand(2, 1, 5, 5) > 0.3
    mask[0, 0, 1] = False  # a query without any allowed key stays finite
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        torch.manual_seed(7)
        out = attend(q, k, v, mask, dropout_p=0.3, training=True, cpu_fast_path=True)
    torch.manual_seed(7)
    keep = keep_mask((2, 2, 5, 5), 0.3)
    assert 0 < keep.float().mean() < 1
    ref = _reference_attention(q, k, v, mask, keep, 0.3)
    grad = torch.randn_like(ref)
    got = torch.autograd.grad(out, (q, k, v), grad)
    want = torch.autograd.grad(ref, (q, k, v), grad)
    tol = dict(atol=3e-2, rtol=3e-2) if autocast else dict(atol=1e-5, rtol=1e-5)
    assert out.dtype == (torch.bfloat16 if autocast else torch.float32)
    torch.testing.assert_close(out.float(), ref, **tol)
    for g, w in zip(got, want):
        assert g.dtype == torch.float32 and torch.isfinite(g).all()
        torch.testing.assert_close(g, w, **tol)


def test_feed_forward_dropout_is_the_formula_with_its_mask_and_gradients():
    torch.manual_seed(0)
    ffn = use_cpu_fast_path(FeedForward(4, expansion=2, dropout=0.4).train())
    first, prelu, _, last = ffn.layers
    x = torch.randn(3, 5, 4, requires_grad=True)
    torch.manual_seed(3)
    out = ffn(x)
    torch.manual_seed(3)
    keep = keep_mask((3, 5, 8), 0.4)
    ref = last(prelu(first(x)) * keep / 0.6)
    torch.testing.assert_close(out, ref)
    params = [x] + list(ffn.parameters())
    grad = torch.randn_like(ref)
    for g, w in zip(torch.autograd.grad(out, params, grad),
                    torch.autograd.grad(ref, params, grad)):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


def test_feed_forward_in_row_chunks_computes_the_whole_rows(monkeypatch):
    """Chunks of 2 rows (16 hidden values of 8 units each; 15 rows make 8 chunks)
    give what one chunk gives, the same dropout mask included."""
    from sgdetr.models.layers import cpu_fast_path
    torch.manual_seed(0)
    ffn = randomise_parameters(use_cpu_fast_path(FeedForward(4, expansion=2, dropout=0.3)))
    x = torch.randn(3, 5, 4, requires_grad=True)
    grad = torch.randn(3, 5, 4)
    results = []
    for elements in (1 << 22, 16):
        monkeypatch.setattr(cpu_fast_path, 'CHUNK_ELEMENTS', elements)
        torch.manual_seed(1)
        out = ffn.train()(x)
        results.append((out, torch.autograd.grad(out, [x, *ffn.parameters()], grad)))
    assert len(cpu_fast_path._row_chunks(torch.zeros(15, 8))) == 8
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-6, rtol=1e-6)
    for chunked, whole in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('module', ['ffn', 'attention', 'projected'])
def test_without_dropout_fast_and_standard_paths_agree(module):
    torch.manual_seed(0)
    if module == 'ffn':
        layer = FeedForward(8, expansion=2, dropout=0.0)
        args = (torch.randn(3, 5, 8, requires_grad=True), )
    else:
        cls = ProjectionFreeAttention if module == 'attention' else ProjectedAttention
        layer = cls(8, num_heads=2, dropout=0.0)
        x = torch.randn(3, 5, 8, requires_grad=True)
        args = (x, x, x, torch.rand(3, 5) > 0.2)
    randomise_parameters(layer)
    outputs = []
    for fast in (False, True):
        use_cpu_fast_path(layer, fast).train()
        out = layer(*args)
        grads = torch.autograd.grad(out.pow(2).sum(), [args[0], *layer.parameters()])
        outputs.append((out, grads))
    torch.testing.assert_close(outputs[0][0], outputs[1][0], atol=1e-6, rtol=1e-5)
    for a, b in zip(outputs[0][1], outputs[1][1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_the_model_switch_reaches_every_fast_module_and_keeps_the_losses():
    """With dropout off, the whole training step's losses and gradients are the same
    on both paths; the model switches every module that has a fast path."""
    model = without_drop_path(build_tiny_model(seed=0))
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if hasattr(m, 'dropout') and isinstance(m.dropout, float):
            m.dropout = 0.0
    flags = [m.cpu_fast_path for m in model.modules() if hasattr(m, 'cpu_fast_path')]
    assert len(flags) > 10 and all(flags)  # on by default (CPU tensors only)
    results = []
    for fast in (True, False):
        use_cpu_fast_path(model, fast)
        torch.manual_seed(0)
        losses = compute_losses(model, training_batch())
        model.zero_grad()
        sum(losses.values()).backward()
        results.append((losses, {n: p.grad.clone() for n, p in model.named_parameters()
                                 if p.grad is not None}))
    for key, value in results[0][0].items():
        torch.testing.assert_close(value, results[1][0][key], atol=1e-5, rtol=1e-4)
    for name, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][name], atol=1e-5, rtol=1e-3)
