"""Temporal feature pyramid over the detection memory."""
from typing import List, Optional, Tuple

from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS
from ..layers import SeparableConv1d, channel_norm, masked_conv, skippable_mask

#: how each level relates to the memory: strides 1/2 (x2 upsampled), 1, 2, 4
LEVEL_SCALES = (0.5, 1, 2, 4)


class PyramidLevel(nn.Module):
    """``[GELU] -> conv(stride) -> LN -> GELU -> conv -> LN`` on masked input.

    Args:
        channels: C.  stride: of the first convolution.
        upsample: repeat every position twice first (nearest x2).
        pre_activation: GELU before the first convolution.
    """

    def __init__(self, channels: int, stride: int = 1, upsample: bool = False,
                 pre_activation: bool = False):
        super().__init__()
        self.upsample, self.pre_activation = upsample, pre_activation
        self.conv1 = SeparableConv1d(channels, stride)
        self.norm1 = nn.LayerNorm(channels)
        self.conv2 = SeparableConv1d(channels)
        self.norm2 = nn.LayerNorm(channels)

    def forward(self, x: Tensor, in_mask: Optional[Tensor],
                out_mask: Optional[Tensor]) -> Tensor:
        """x (B, C, L_in), masks (B, 1, L_in) / (B, 1, L_out) or None -> (B, C, L_out)."""
        if self.upsample:
            x = x.repeat_interleave(2, dim=-1)
        if self.pre_activation:
            x = F.gelu(x)
        x = F.gelu(channel_norm(self.norm1, masked_conv(self.conv1, x, in_mask)))
        x = channel_norm(self.norm2, masked_conv(self.conv2, x, out_mask))
        return x if out_mask is None else x * out_mask


@MODELS.register_module()
class TemporalFeaturePyramid(nn.Module):
    """Four levels from the memory: x2 upsampled, same, /2, /4 (the /4 level is
    computed from the /2 one), depthwise-separable convolutions, LayerNorm, GELU.

    The memory length must be a multiple of 4 (the data pipeline pads
    videos to it). Padded positions are zero in every level and never
    reach a valid one.

    Args:
        embed_dims: C.
    """

    def __init__(self, embed_dims: int = 256):
        super().__init__()
        self.up2 = PyramidLevel(embed_dims, upsample=True)
        self.full = PyramidLevel(embed_dims)
        self.down2 = PyramidLevel(embed_dims, stride=2)
        self.down4 = PyramidLevel(embed_dims, stride=2, pre_activation=True)
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.normal_(module.weight, std=0.01)

    @staticmethod
    def level_masks(mask: Tensor) -> List[Tensor]:
        """(B, L) bool -> per level (B, L_k) bool; a position is valid if any clip under it is."""
        as_float = mask.float()[:, None]
        masks = [mask.repeat_interleave(2, dim=1), mask]
        for stride in (2, 4):
            masks.append(F.max_pool1d(as_float, stride, stride)[:, 0].bool())
        return masks

    def forward(self, memory: Tensor, mask: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """memory (B, L, C), mask (B, L) bool -> 4 levels (B, L_k, C) and their masks (B, L_k)."""
        if memory.shape[1] % 4:
            raise ValueError(f'the pyramid needs a multiple of 4 clips, got {memory.shape[1]}'
                             ' (pad videos with the PadClips transform)')
        masks = self.level_masks(mask)
        # masks only matter (and cost memory) when the batch has padding
        m = [None] * 4 if skippable_mask(mask) else [k.to(memory.dtype)[:, None] for k in masks]
        x = memory.transpose(1, 2)
        up2 = self.up2(x, m[0], m[0])
        full = self.full(x, m[1], m[1])
        down2 = self.down2(x, m[1], m[2])
        down4 = self.down4(down2, m[2], m[3])
        return [level.transpose(1, 2) for level in (up2, full, down2, down4)], masks
