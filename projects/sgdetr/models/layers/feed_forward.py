"""Position-wise feed-forward network of the released transformer layers."""
from collections import OrderedDict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .dropout import keep_mask

#: initial negative slope of the PReLU (and the gain of its Xavier init)
PRELU_SLOPE = 0.25


class FeedForward(nn.Module):
    """``Linear -> PReLU -> Dropout -> Linear``, no residual, no norm.

    The parameters are those of ``nn.Sequential(Linear, PReLU, Dropout, Linear)``
    (``layers.0``, ``layers.1``, ``layers.3``, the names of the released
    checkpoints; the dropout, applied inside the function below, holds no
    module). The computation is one autograd
    function that keeps the hidden activations and the dropout mask only (the
    PReLU output and the dropped activations are recomputed in the backward
    pass, elementwise): about a third less memory per layer than the modules
    one after another, and the single-slope PReLU gradient without PyTorch's
    slow generic kernel.

    Args:
        embed_dims: input and output size H.
        expansion: hidden size is ``expansion * H``.
        dropout: dropout after the activation.
    """

    def __init__(self, embed_dims: int, expansion: int = 4, dropout: float = 0.1):
        super().__init__()
        hidden = embed_dims * expansion
        self.dropout = dropout
        # index 2 was the release's dropout module: the parameter names skip it
        self.layers = nn.Sequential(OrderedDict([
            ('0', nn.Linear(embed_dims, hidden)), ('1', nn.PReLU(init=PRELU_SLOPE)),
            ('3', nn.Linear(hidden, embed_dims))]))
        gain = nn.init.calculate_gain('leaky_relu', PRELU_SLOPE)
        nn.init.xavier_uniform_(self.layers[0].weight, gain=gain)
        nn.init.xavier_uniform_(self.layers[2].weight)
        nn.init.zeros_(self.layers[0].bias)
        nn.init.zeros_(self.layers[2].bias)

    def forward(self, x: Tensor) -> Tensor:
        """(..., H) -> (..., H)."""
        first, prelu, second = self.layers
        p = self.dropout if self.training else 0.0
        return _FeedForwardFunction.apply(x, first.weight, first.bias, prelu.weight,
                                          second.weight, second.bias, p)


class _FeedForwardFunction(torch.autograd.Function):
    """``linear2(dropout(prelu(linear1(x))))``, saving ``x``, the hidden ``h`` and the mask.

    The PReLU runs as leaky ReLU with the (single) slope's value, whose kernels
    are vectorised for every dtype; the (bool) mask is applied as a 0 /
    ``1 / (1 - p)`` tensor of the compute dtype.
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


def _scale(keep: torch.Tensor, p: float, dtype) -> torch.Tensor:
    return keep.to(dtype).mul_(1.0 / (1.0 - p))
