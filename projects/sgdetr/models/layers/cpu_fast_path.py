"""The CPU fast path of training: cheaper dropout draws and a fused feed-forward layer.

Training on a CPU spends a large share of its time on two things the standard
modules do generically: dropout draws one random number per element (as costly
as this model's feed-forward products), and the PReLU backward runs a slow
generic kernel. Here one 64-bit draw gives the 16-bit uniforms of four
elements (the keep probability is exact to 1/65536), and the feed-forward layer
is one autograd function that keeps only its input, the hidden activations and
the bool dropout mask, with the single-slope PReLU run as leaky ReLU.

:func:`use_cpu_fast_path` switches it on for the modules that have it
(:class:`FeedForward`, the attention modules); they use it for CPU tensors
only and compute with the standard modules otherwise. The draws come from
torch's default generator, so seeding and saved random states work as for
``F.dropout`` (the masks differ from ``F.dropout``'s, not their law).
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

_RESOLUTION = 1 << 16


def use_cpu_fast_path(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Switch the fast path of every module of ``model`` that has one."""
    for module in model.modules():
        if hasattr(module, 'cpu_fast_path'):
            module.cpu_fast_path = enabled
    return model


def keep_mask(shape, p: float, device=None) -> Tensor:
    """Bool mask of ``shape``, each element True with probability ``1 - p``."""
    numel = math.prod(shape)
    words = torch.randint(-2**63, 2**63 - 1, ((numel + 3) // 4, ), dtype=torch.int64,
                          device=device)
    threshold = round(p * _RESOLUTION) - _RESOLUTION // 2
    return (words.view(torch.int16)[:numel] >= threshold).view(shape)


def packed_dropout(x: Tensor, p: float) -> Tensor:
    """Training-mode dropout of ``x`` with :func:`keep_mask`."""
    if p == 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    # a multiply by a 0 / 1 / (1 - p) tensor is vectorised for every dtype
    return x * keep_mask(x.shape, p, x.device).to(x.dtype).mul_(1.0 / (1.0 - p))


def attention_with_packed_dropout(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor],
                                  dropout_p: float) -> Tensor:
    """``packed_dropout(softmax(q k^T / sqrt(d))) v`` with explicit probabilities
    (the fused kernel would draw one number per element); shapes as :func:`attend`.
    Masked logits are the dtype's minimum, so a row without any allowed key stays finite."""
    logits = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-1, -2)
    if mask is not None:
        logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return packed_dropout(logits.softmax(-1), dropout_p) @ v


def fused_feed_forward(layers: nn.Sequential, x: Tensor, training: bool) -> Tensor:
    """``layers`` = ``(Linear, PReLU, Dropout, Linear)`` applied to ``x`` (..., H) as one
    autograd function, with :func:`keep_mask` for the dropout."""
    first, prelu, drop, second = layers
    p = drop.p if training else 0.0
    return _FeedForwardFunction.apply(x, first.weight, first.bias, prelu.weight,
                                      second.weight, second.bias, p)


class _FeedForwardFunction(torch.autograd.Function):
    """``linear2(dropout(prelu(linear1(x))))``, saving ``x``, the hidden ``h`` and the mask.

    The (bool) mask is applied as a 0 / ``1 / (1 - p)`` tensor of the compute dtype;
    the PReLU output and the dropped activations are recomputed in the backward pass.
    """

    @staticmethod
    def forward(ctx, x, w1, b1, slope, w2, b2, p):
        device = x.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) \
            else x.dtype
        ctx.dtypes = [t.dtype for t in (x, w1, b1, slope, w2, b2)]
        x_, w1_, b1_, w2_, b2_ = (t.to(dtype) for t in (x, w1, b1, w2, b2))
        negative_slope = float(slope)
        with torch.autocast(device, enabled=False):
            h = F.linear(x_, w1_, b1_)
            keep = keep_mask(h.shape, p, h.device) if p > 0 else None
            act = F.leaky_relu(h, negative_slope)
            out = F.linear(act if keep is None else act * _scale(keep, p, dtype), w2_, b2_)
        ctx.negative_slope, ctx.p = negative_slope, p
        ctx.save_for_backward(x_, h, keep, w1_, w2_)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, h, keep, w1, w2 = ctx.saved_tensors
        slope = ctx.negative_slope
        scale = None if keep is None else _scale(keep, ctx.p, h.dtype)
        with torch.autocast(grad_out.device.type, enabled=False):
            grad_out = grad_out.to(h.dtype)
            act = F.leaky_relu(h, slope)
            if scale is not None:
                act = act * scale
            flat_g = grad_out.reshape(-1, grad_out.shape[-1])
            grad_w2 = flat_g.T @ act.reshape(-1, act.shape[-1])
            grad_b2 = flat_g.sum(0)
            grad_act = grad_out @ w2
            if scale is not None:
                grad_act = grad_act * scale
            grad_slope = (grad_act * h.clamp(max=0)).sum().reshape(1)
            grad_h = torch.ops.aten.leaky_relu_backward(grad_act, h, slope, False)
            flat_h = grad_h.reshape(-1, grad_h.shape[-1])
            grad_w1 = flat_h.T @ x.reshape(-1, x.shape[-1])
            grad_b1, grad_x = flat_h.sum(0), grad_h @ w1
        grads = (grad_x, grad_w1, grad_b1, grad_slope, grad_w2, grad_b2)
        return tuple(g.to(dt) for g, dt in zip(grads, ctx.dtypes)) + (None, )


def _scale(keep: Tensor, p: float, dtype) -> Tensor:
    return keep.to(dtype).mul_(1.0 / (1.0 - p))
