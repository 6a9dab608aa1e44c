"""InternVideo2 encoders exported to TorchScript, the features of the SG-DETR release.

Video. The InternVideo2 video encoder (the 1B stage-2 model with its
projection to the 512-d video-text space) is distributed as a TorchScript
file, ``video_encoder.pt``; download it yourself and give its path. It is
loaded with :func:`torch.jit.load` and called as ``module(x)`` on a clip,
``x`` float (B, 3, T, H, W) (``input_format='BCTHW'``, InternVideo2's
layout; ``'BTCHW'`` for modules that take frames first), frames scaled to
``[0, 1]`` and normalised with the ImageNet mean / std, ``T = 4`` frames of
224 x 224 (the stage-2 1B model is the 224p, 4-frame one) unless the module
carries integer attributes ``num_frames`` / ``image_size`` or the arguments
say otherwise. It returns (B, D): one 512-d row per 2 s clip, the
``{vid}.pt`` tensors (L, 512) of the release.

Text. The released text features are per-token outputs of the InternVideo2
text encoder (a BERT-large tower, uncased WordPiece vocabulary, projected to
the same 512-d space): one row per token of the tokenised query, the
``features`` array (N, 512) of ``{qid}.npz``, not a pooled sentence vector.
Export that tower (with its projection) to TorchScript as a module called
``module(input_ids, attention_mask)`` (both int64 (B, N)) that returns
(B, N, D); :class:`InternVideo2TextEncoder` tokenises with a Hugging Face
tokenizer (``tokenizer``: a local directory or a hub name, BERT-large-uncased
for InternVideo2) and keeps the tokens the attention mask marks, at most
``max_length`` (40, the configs' ``max_tokens``).
"""
import warnings
from typing import Callable, List, Optional, Sequence, Union

import torch
from torch import Tensor

from .base import (IMAGENET_MEAN, IMAGENET_STD, TextEncoder, VideoEncoder, first_tensor,
                   resolve_device, tokens_by_mask)
from .registry import ENCODERS


def load_torchscript(path: str, device: torch.device) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            # the release is TorchScript: recent torch versions flag jit as deprecated
            warnings.simplefilter('ignore', DeprecationWarning)
            module = torch.jit.load(path, map_location=device)
    except (RuntimeError, ValueError, OSError) as error:
        raise ValueError(f'{path}: not a TorchScript module that torch.jit.load can read '
                         f'({error})') from error
    return module.eval()


def _int_attribute(module, name: str) -> Optional[int]:
    value = getattr(module, name, None)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dtype(module, default=torch.float32) -> torch.dtype:
    for parameter in module.parameters():
        return parameter.dtype
    return default


def load_tokenizer(tokenizer: Union[str, Callable]):
    """A Hugging Face tokenizer from a local directory / hub name, or a callable as is."""
    if callable(tokenizer):
        return tokenizer
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ImportError('tokenizing queries needs transformers: pip install transformers '
                          '(or pip install -e ".[video]")') from None
    return AutoTokenizer.from_pretrained(tokenizer)


@ENCODERS.register_module()
class InternVideo2VideoEncoder(VideoEncoder):
    """The released InternVideo2 video extractor, a TorchScript ``video_encoder.pt``.

    Args:
        path: the TorchScript file.
        frames_per_clip: frames per clip (default: the module's ``num_frames``
            attribute, else 4).
        image_size: side of the square input (default: the module's
            ``image_size`` attribute, else 224).
        input_format: ``'BCTHW'`` (InternVideo2) or ``'BTCHW'``.
        mean, std: input normalisation (ImageNet's).
        device: ``'cpu'``, ``'cuda'``, ... (default: CUDA when available).
    """

    def __init__(self, path: str, frames_per_clip: Optional[int] = None,
                 image_size: Optional[int] = None, input_format: str = 'BCTHW',
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 device: Optional[str] = None):
        super().__init__()
        if input_format not in ('BCTHW', 'BTCHW'):
            raise ValueError(f"input_format must be 'BCTHW' or 'BTCHW', got {input_format!r}")
        self._device = resolve_device(device)
        self.path = path
        self.module = load_torchscript(path, self._device)
        self.frames_per_clip = int(frames_per_clip or _int_attribute(self.module, 'num_frames')
                                   or 4)
        self.image_size = int(image_size or _int_attribute(self.module, 'image_size') or 224)
        self.input_format = input_format
        self.mean, self.std = tuple(mean), tuple(std)

    def forward_pixels(self, pixels: Tensor) -> Tensor:
        if self.input_format == 'BCTHW':
            pixels = pixels.permute(0, 2, 1, 3, 4)
        output = first_tensor(self.module(pixels.to(_dtype(self.module)).contiguous()))
        if output.dim() == 3 and output.shape[1] == 1:
            output = output[:, 0]
        return output


@ENCODERS.register_module()
class InternVideo2TextEncoder(TextEncoder):
    """The InternVideo2 text tower exported to TorchScript: per-token features.

    Args:
        path: the TorchScript file, called ``module(input_ids, attention_mask)``
            -> (B, N, D).
        tokenizer: Hugging Face tokenizer directory or name (BERT-large-uncased
            for InternVideo2), or a callable with the Hugging Face tokenizer
            signature.
        max_length: tokens kept per query, special tokens included.
        batch_size: queries per forward.
        device: as for the video encoder.
    """

    def __init__(self, path: str, tokenizer: Union[str, Callable] = 'bert-large-uncased',
                 max_length: int = 40, batch_size: int = 64, device: Optional[str] = None):
        super().__init__()
        self._device = resolve_device(device)
        self.path = path
        self.module = load_torchscript(path, self._device)
        self.tokenizer = load_tokenizer(tokenizer)
        self.max_length = max_length
        self.batch_size = batch_size

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> List[Tensor]:
        texts = [str(t) for t in texts]
        results = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], padding=True,
                                   truncation=True, max_length=self.max_length,
                                   return_tensors='pt')
            ids = batch['input_ids'].to(self._device)
            mask = batch['attention_mask'].to(self._device)
            tokens = first_tensor(self.module(ids, mask))
            if tokens.dim() != 3 or tokens.shape[:2] != ids.shape:
                raise ValueError(f'{self.path}: expected per-token features (B, N, D) for '
                                 f'input ids {tuple(ids.shape)}, got {tuple(tokens.shape)}')
            results += tokens_by_mask(tokens, mask)
        return results
