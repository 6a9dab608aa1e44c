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
    return x * _scale(keep_mask(x.shape, p, x.device), p, x.dtype)


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
    Rows are processed :data:`CHUNK_ELEMENTS` hidden values at a time: the elementwise
    work between the two products then runs on activations still in the cache, and a
    large batch costs about what a small one costs per sample (measured 1.4x per sample
    at batch 128 against 32 without it).
    """

    @staticmethod
    def forward(ctx, x, w1, b1, slope, w2, b2, p):
        device = x.device.type
        dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) \
            else x.dtype
        ctx.dtypes = [t.dtype for t in (x, w1, b1, slope, w2, b2)]
        x_, w1_, b1_, w2_, b2_ = (t.to(dtype) for t in (x, w1, b1, w2, b2))
        negative_slope = float(slope)
        rows = x_.reshape(-1, x_.shape[-1])
        h = rows.new_empty(len(rows), w1_.shape[0])
        out = rows.new_empty(len(rows), w2_.shape[0])
        keep = keep_mask(h.shape, p, h.device) if p > 0 else None
        with torch.autocast(device, enabled=False):
            for chunk in _row_chunks(h):
                torch.addmm(b1_, rows[chunk], w1_.T, out=h[chunk])
                act = F.leaky_relu(h[chunk], negative_slope)
                if keep is not None:
                    act = act * _scale(keep[chunk], p, dtype)
                torch.addmm(b2_, act, w2_.T, out=out[chunk])
        ctx.negative_slope, ctx.p = negative_slope, p
        ctx.save_for_backward(rows, h, keep, w1_, w2_)
        return out.view(*x_.shape[:-1], -1)

    @staticmethod
    def backward(ctx, grad_out):
        rows, h, keep, w1, w2 = ctx.saved_tensors
        slope = ctx.negative_slope
        with torch.autocast(grad_out.device.type, enabled=False):
            grad_rows = grad_out.to(h.dtype).reshape(-1, grad_out.shape[-1])
            grad_w1, grad_w2 = torch.zeros_like(w1), torch.zeros_like(w2)
            grad_b1, grad_b2 = w1.new_zeros(w1.shape[0]), w2.new_zeros(w2.shape[0])
            grad_slope, grad_x = h.new_zeros(1), torch.empty_like(rows)
            for chunk in _row_chunks(h):
                g, h_c = grad_rows[chunk], h[chunk]
                scale = None if keep is None else _scale(keep[chunk], ctx.p, h.dtype)
                act = F.leaky_relu(h_c, slope)
                if scale is not None:
                    act = act * scale
                grad_w2.addmm_(g.T, act)
                grad_b2 += g.sum(0)
                grad_act = g @ w2
                if scale is not None:
                    grad_act = grad_act * scale
                grad_slope += (grad_act * h_c.clamp(max=0)).sum()
                grad_h = torch.ops.aten.leaky_relu_backward(grad_act, h_c, slope, False)
                grad_w1.addmm_(grad_h.T, rows[chunk])
                grad_b1 += grad_h.sum(0)
                torch.mm(grad_h, w1, out=grad_x[chunk])
        grads = (grad_x.view(grad_out.shape[:-1] + (-1, )), grad_w1, grad_b1, grad_slope,
                 grad_w2, grad_b2)
        return tuple(g.to(dt) for g, dt in zip(grads, ctx.dtypes)) + (None, )


#: hidden activations per chunk of the fused feed-forward layer (16 MB in float32)
CHUNK_ELEMENTS = 1 << 22


def _row_chunks(hidden: Tensor):
    """Slices of the rows of ``hidden`` (N, H), :data:`CHUNK_ELEMENTS` values each."""
    step = max(1, CHUNK_ELEMENTS // hidden.shape[-1])
    return [slice(start, start + step) for start in range(0, len(hidden), step)]


def _scale(keep: Tensor, p: float, dtype) -> Tensor:
    """The mask as a 0 / ``1 / (1 - p)`` tensor: a multiply by it is vectorised for
    every dtype."""
    return keep.to(dtype).mul_(1.0 / (1.0 - p))
