"""1D convolution blocks over padded batches of sequences.

Every block zeroes the padded positions of its input before each
convolution, so a sequence is processed exactly as it would be alone (a
convolution at its end sees the zero padding of ``padding=1``, not the
features of padded positions), whatever else shares the batch.

Layout: features (B, C, L), masks (B, 1, L) float, 1 = valid position, or
None when every position of the batch is valid (nothing to zero).
"""
from typing import Optional

from torch import Tensor, nn
from torch.nn import functional as F


def channel_norm(norm: nn.LayerNorm, x: Tensor) -> Tensor:
    """LayerNorm over the channels of (B, C, L) features."""
    return norm(x.transpose(1, 2)).transpose(1, 2)


class SeparableConv1d(nn.Module):
    """Depthwise (kernel 3, given stride) then pointwise convolution, no bias."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, 3, stride=stride, padding=1,
                                   groups=channels, bias=False)
        self.pointwise = nn.Conv1d(channels, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, L) -> (B, C, ceil(L / stride))."""
        return self.pointwise(self.depthwise(x))


class ConvNormStack(nn.Module):
    """``num_layers`` x (conv k3 without bias -> LayerNorm -> ReLU) on masked input.

    The convolution tower of the ATSS head.
    """

    def __init__(self, channels: int, num_layers: int = 3):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, 3, padding=1, bias=False)
            for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(num_layers))

    def forward(self, x: Tensor, mask: Optional[Tensor]) -> Tensor:
        """x (B, C, L), mask (B, 1, L) or None -> (B, C, L), zero at padding."""
        for conv, norm in zip(self.convs, self.norms):
            x = F.relu(channel_norm(norm, masked_conv(conv, x, mask)), inplace=True)
        return x if mask is None else x * mask


def masked_conv(conv: nn.Conv1d, x: Tensor, mask: Optional[Tensor]) -> Tensor:
    """``conv`` applied to ``x`` with padded positions zeroed first."""
    return conv(x if mask is None else x * mask)
