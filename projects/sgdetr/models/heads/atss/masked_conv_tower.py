"""1D convolution tower whose outputs on real clips ignore padded clips."""
import torch
from torch import Tensor, nn


class MaskedGroupNorm1d(nn.GroupNorm):
    """GroupNorm over (channels-in-group, clips) that counts real clips only.

    Plain GroupNorm would let the number of padded clips change the statistics,
    hence the real outputs. Shapes: x (B, C, L), mask (B, L) bool, True = real.
    Padded positions of the output are 0.
    """

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        B, C, L = x.shape
        weights = mask.to(x.dtype).view(B, 1, 1, L)
        grouped = x.view(B, self.num_groups, C // self.num_groups, L)
        count = (weights.sum(-1, keepdim=True) * grouped.size(2)).clamp(min=1)
        mean = (grouped * weights).sum((2, 3), keepdim=True) / count
        var = ((grouped - mean).square() * weights).sum((2, 3), keepdim=True) / count
        normed = ((grouped - mean) * torch.rsqrt(var + self.eps)).view(B, C, L)
        if self.affine:
            normed = normed * self.weight.view(1, C, 1) + self.bias.view(1, C, 1)
        return normed * weights.view(B, 1, L)


class MaskedConvTower(nn.Module):
    """``num_convs`` x (Conv1d k=3 -> MaskedGroupNorm1d -> ReLU).

    Padded clips are zeroed before every convolution, so a real clip next to
    padding sees exactly the zero padding it would see at the end of an
    unpadded sequence.

    Args:
        in_channels: C_in.  channels: C of every layer.  num_convs: depth.
        num_groups: GroupNorm groups.
    Shapes: x (B, C_in, L), mask (B, L) -> (B, C, L), 0 on padded clips.
    """

    def __init__(self, in_channels: int, channels: int, num_convs: int,
                 num_groups: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(in_channels if i == 0 else channels, channels, 3,
                      padding=1, bias=False)  # GroupNorm's bias replaces it
            for i in range(num_convs))
        self.norms = nn.ModuleList(
            MaskedGroupNorm1d(num_groups, channels) for _ in range(num_convs))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x * mask.unsqueeze(1).to(x.dtype)
        for conv, norm in zip(self.convs, self.norms):
            # norm re-zeroes padded clips, ReLU keeps them 0
            x = norm(conv(x), mask).relu()
        return x
