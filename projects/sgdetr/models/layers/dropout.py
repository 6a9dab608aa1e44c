"""Dropout with cheaper random numbers on the CPU.

PyTorch's CPU dropout draws one random number per element, which makes it
as expensive as the matrix products of this model's feed-forward layers. Here
one 64-bit draw gives the 16-bit uniforms of four elements (the keep
probability is exact to 1/65536); on other devices ``F.dropout`` is used.
The draws come from torch's default generator, so seeding and saved random
states work as for ``F.dropout``.
"""
import torch
from torch import Tensor, nn
from torch.nn import functional as F

_RESOLUTION = 1 << 16


def keep_mask(shape, p: float, device=None) -> Tensor:
    """Bool mask of ``shape``, each element True with probability ``1 - p``."""
    numel = 1
    for size in shape:
        numel *= size
    words = torch.randint(-2**63, 2**63 - 1, ((numel + 3) // 4, ), dtype=torch.int64,
                          device=device)
    threshold = round(p * _RESOLUTION) - _RESOLUTION // 2
    return (words.view(torch.int16)[:numel] >= threshold).view(shape)


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """``F.dropout(x, p, training)``, with :func:`keep_mask` on the CPU."""
    if not training or p == 0.0:
        return x
    if x.device.type != 'cpu' or p >= 1.0:
        return F.dropout(x, p, training)
    # a multiply by a 0 / 1 / (1 - p) tensor is vectorised for every dtype
    return x * keep_mask(x.shape, p, x.device).to(x.dtype).mul_(1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """``nn.Dropout`` computed by :func:`dropout`."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)
