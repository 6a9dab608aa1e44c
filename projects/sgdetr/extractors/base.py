"""The encoder interface: clips of frames -> one feature per clip; queries ->
one feature per token.

A :class:`VideoEncoder` receives the frames the decoder sampled for each
clip as ``uint8`` RGB, ``(B, F, H, W, 3)`` with ``F = frames_per_clip``
(the decoder already scaled the short side to ``image_size``), and returns
``(B, D)``. A :class:`TextEncoder` receives strings and returns one
``(N_i, D)`` tensor per string (its tokens, padding removed): the moment
models read per-token text features, not a pooled sentence vector.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: ImageNet statistics (InternVideo2's input normalisation)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: CLIP's input normalisation
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resize_short_side(images: Tensor, size: int, mode: str = 'bilinear') -> Tensor:
    """(N, 3, H, W) float images with their short side scaled to ``size``."""
    height, width = images.shape[-2:]
    if min(height, width) == size:
        return images
    scale = size / min(height, width)
    new_size = (max(size, round(height * scale)), max(size, round(width * scale)))
    return F.interpolate(images, size=new_size, mode=mode, align_corners=False,
                         antialias=True)


def center_crop(images: Tensor, size: int) -> Tensor:
    """The central ``size`` x ``size`` square of (N, 3, H, W) images."""
    height, width = images.shape[-2:]
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    return images[..., top:top + size, left:left + size]


def to_pixels(frames: Tensor, image_size: int, mean: Sequence[float],
              std: Sequence[float], mode: str = 'bilinear') -> Tensor:
    """uint8 (B, F, H, W, 3) frames -> normalised float (B, F, 3, S, S).

    The short side is scaled to ``image_size`` (a no-op when the decoder did
    it), the centre square is kept, and each channel is normalised.
    """
    batch, num_frames = frames.shape[:2]
    images = frames.reshape(batch * num_frames, *frames.shape[2:]).permute(0, 3, 1, 2)
    images = images.float().div_(255.0)
    images = center_crop(resize_short_side(images, image_size, mode), image_size)
    mean = images.new_tensor(mean).view(1, 3, 1, 1)
    std = images.new_tensor(std).view(1, 3, 1, 1)
    images = (images - mean) / std
    return images.reshape(batch, num_frames, 3, image_size, image_size)


class VideoEncoder(nn.Module):
    """Base class: one feature per clip.

    Subclasses set ``frames_per_clip``, ``image_size``, ``mean``, ``std``
    and implement :meth:`forward_pixels`.
    """
    frames_per_clip: int = 1
    image_size: int = 224
    mean: Sequence[float] = IMAGENET_MEAN
    std: Sequence[float] = IMAGENET_STD
    resize_mode: str = 'bilinear'

    @property
    def device(self) -> torch.device:
        for tensor in list(self.parameters()) + list(self.buffers()):
            return tensor.device
        return torch.device(getattr(self, '_device', 'cpu'))

    def preprocess(self, frames: Tensor) -> Tensor:
        """uint8 (B, F, H, W, 3) -> the float input of :meth:`forward_pixels`."""
        return to_pixels(frames, self.image_size, self.mean, self.std, self.resize_mode)

    def forward_pixels(self, pixels: Tensor) -> Tensor:
        """Normalised (B, F, 3, S, S) -> (B, D)."""
        raise NotImplementedError

    @torch.no_grad()
    def encode_clips(self, frames: Tensor) -> Tensor:
        """uint8 (B, F, H, W, 3) clip frames -> float32 (B, D) on the CPU."""
        frames = torch.as_tensor(frames)
        if frames.dim() != 5 or frames.shape[-1] != 3:
            raise ValueError(f'expected clip frames (B, F, H, W, 3), got {tuple(frames.shape)}')
        pixels = self.preprocess(frames.to(self.device))
        features = self.forward_pixels(pixels)
        if features.dim() != 2 or features.shape[0] != frames.shape[0]:
            raise ValueError(f'{type(self).__name__} returned {tuple(features.shape)} for '
                             f'{frames.shape[0]} clips; expected (B, D)')
        return features.float().cpu()


class TextEncoder(nn.Module):
    """Base class: per-token features of each query."""

    @property
    def device(self) -> torch.device:
        for tensor in list(self.parameters()) + list(self.buffers()):
            return tensor.device
        return torch.device(getattr(self, '_device', 'cpu'))

    def encode(self, texts: Sequence[str]) -> List[Tensor]:
        """Strings -> one float32 (N_i, D) CPU tensor per string."""
        raise NotImplementedError


def tokens_by_mask(tokens: Tensor, mask: Tensor) -> List[Tensor]:
    """(B, N, D) token features + (B, N) mask -> the B (N_i, D) real tokens."""
    mask = mask.bool()
    return [tokens[b][mask[b]].float().cpu() for b in range(tokens.shape[0])]


def first_tensor(output) -> Tensor:
    """The tensor a module returned, or the first of a tuple / list / dict."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise TypeError(f'expected a tensor output, got {type(output).__name__}')


def resolve_device(device: Optional[str]) -> torch.device:
    if device in (None, 'auto'):
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)
