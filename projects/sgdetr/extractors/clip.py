"""CLIP encoders, for users without the InternVideo2 weights.

Two implementations with their libraries' own weight loading:

- :class:`CLIPVideoEncoder` / :class:`CLIPTextEncoder` through Hugging Face
  ``transformers`` (``CLIPModel.from_pretrained``: a hub name such as
  ``openai/clip-vit-base-patch32``, or a local directory);
- :class:`OpenCLIPVideoEncoder` / :class:`OpenCLIPTextEncoder` through
  ``open_clip`` (``open_clip.create_model(model_name, pretrained=...)``:
  a pretrained tag such as ``openai`` or a checkpoint file), which needs a
  ``torchvision`` built for the installed ``torch``.

Video: ``frames_per_clip`` frames per clip (1 by default, the frame at the
clip's centre, as in the Moment-DETR CLIP features), resized to the model's
input size and normalised with its statistics; a clip's feature is the mean
of its frames' image embeddings (the projected, joint-space ones).

Text: one row per token of the tokenised query (start and end tokens
included, padding removed), taken after the text tower's final layer norm
and, with ``project_tokens=True`` (default), mapped by the text projection
into the joint space, where the end token's row is the sentence embedding;
``project_tokens=False`` keeps the tower's width (Moment-DETR's
``last_hidden_state``).

The video and text encoders of one model share its weights: building both
loads them once.
"""
import warnings
import weakref
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from .base import (CLIP_MEAN, CLIP_STD, TextEncoder, VideoEncoder, resolve_device,
                   tokens_by_mask)
from .registry import ENCODERS

_LOADED = weakref.WeakValueDictionary()


def _shared(key, load):
    model = _LOADED.get(key)
    if model is None:
        model = load()
        _LOADED[key] = model
    return model


def _import_transformers():
    try:
        import transformers
    except ImportError:
        raise ImportError('the CLIP encoders need transformers: pip install transformers '
                          '(or pip install -e ".[video]")') from None
    return transformers


def load_hf_clip(model: str, device: torch.device):
    """``transformers.CLIPModel.from_pretrained(model)``, shared by the encoders."""
    def load():
        transformers = _import_transformers()
        return transformers.CLIPModel.from_pretrained(model).to(device).eval()
    return _shared(('hf', model, str(device)), load)


@ENCODERS.register_module()
class CLIPVideoEncoder(VideoEncoder):
    """CLIP image embeddings per clip (``transformers``).

    Args:
        model: hub name or local directory of a ``CLIPModel``.
        frames_per_clip: frames averaged per clip.
        device: ``'cpu'``, ``'cuda'``, ... (default: CUDA when available).
    """
    resize_mode = 'bicubic'

    def __init__(self, model: str = 'openai/clip-vit-base-patch32', frames_per_clip: int = 1,
                 device: Optional[str] = None):
        super().__init__()
        self._device = resolve_device(device)
        self.model_name = model
        self.clip = load_hf_clip(model, self._device)
        self.frames_per_clip = int(frames_per_clip)
        self.image_size = int(self.clip.config.vision_config.image_size)
        self.mean, self.std = self._statistics(model)

    @staticmethod
    def _statistics(model: str):
        """The processor's mean / std when the model ships one, else CLIP's."""
        transformers = _import_transformers()
        try:
            processor = transformers.CLIPImageProcessor.from_pretrained(model)
            return tuple(processor.image_mean), tuple(processor.image_std)
        except (OSError, ValueError, AttributeError):
            return CLIP_MEAN, CLIP_STD

    def forward_pixels(self, pixels: Tensor) -> Tensor:
        batch, frames = pixels.shape[:2]
        dtype = next(self.clip.parameters()).dtype
        output = self.clip.vision_model(pixel_values=pixels.flatten(0, 1).to(dtype))
        embeddings = self.clip.visual_projection(output.pooler_output)
        return embeddings.view(batch, frames, -1).mean(1)


@ENCODERS.register_module()
class CLIPTextEncoder(TextEncoder):
    """Per-token CLIP text features (``transformers``).

    Args:
        model: hub name or local directory (model and tokenizer).
        project_tokens: map every token by the text projection (joint space).
        max_length: tokens kept (default: the model's positions, 77).
        batch_size: queries per forward.
        device: as for the video encoder.
    """

    def __init__(self, model: str = 'openai/clip-vit-base-patch32', project_tokens: bool = True,
                 max_length: Optional[int] = None, batch_size: int = 64,
                 device: Optional[str] = None):
        super().__init__()
        self._device = resolve_device(device)
        self.model_name = model
        self.clip = load_hf_clip(model, self._device)
        self.tokenizer = _import_transformers().AutoTokenizer.from_pretrained(model)
        self.project_tokens = project_tokens
        self.max_length = int(max_length or self.clip.config.text_config.max_position_embeddings)
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
            tokens = self.clip.text_model(input_ids=ids, attention_mask=mask).last_hidden_state
            if self.project_tokens:
                tokens = self.clip.text_projection(tokens)
            results += tokens_by_mask(tokens, mask)
        return results


def _import_open_clip():
    try:
        import open_clip
    except ImportError as error:
        raise ImportError('the open_clip encoders need open_clip_torch and a torchvision '
                          f'built for this torch ({error}); the transformers CLIP encoders '
                          '(CLIPVideoEncoder / CLIPTextEncoder) need neither') from None
    return open_clip


def load_open_clip(model_name: str, pretrained: Optional[str], device: torch.device,
                   cache_dir: Optional[str] = None):
    """``open_clip.create_model(model_name, pretrained=...)``, shared by the encoders."""
    def load():
        open_clip = _import_open_clip()
        return open_clip.create_model(model_name, pretrained=pretrained, device=device,
                                      cache_dir=cache_dir).eval()
    return _shared(('open_clip', model_name, pretrained, str(device)), load)


@ENCODERS.register_module()
class OpenCLIPVideoEncoder(VideoEncoder):
    """CLIP image embeddings per clip (``open_clip``).

    Args:
        model_name: an open_clip model name (``ViT-B-32``, ...).
        pretrained: a pretrained tag (``openai``, ``laion2b_s34b_b79k``, ...)
            or a checkpoint file; ``None`` leaves the weights random.
        frames_per_clip: frames averaged per clip.
        cache_dir: where open_clip keeps downloaded weights.
        device: as above.
    """

    def __init__(self, model_name: str = 'ViT-B-32', pretrained: Optional[str] = 'openai',
                 frames_per_clip: int = 1, cache_dir: Optional[str] = None,
                 device: Optional[str] = None):
        super().__init__()
        self._device = resolve_device(device)
        open_clip = _import_open_clip()
        self.clip = load_open_clip(model_name, pretrained, self._device, cache_dir)
        cfg = open_clip.get_model_preprocess_cfg(self.clip)
        size = cfg.get('size', 224)
        self.image_size = int(size if isinstance(size, int) else min(size))
        self.mean = tuple(cfg.get('mean', CLIP_MEAN))
        self.std = tuple(cfg.get('std', CLIP_STD))
        self.resize_mode = cfg.get('interpolation', 'bicubic')
        self.frames_per_clip = int(frames_per_clip)

    def forward_pixels(self, pixels: Tensor) -> Tensor:
        batch, frames = pixels.shape[:2]
        embeddings = self.clip.encode_image(pixels.flatten(0, 1))
        return embeddings.view(batch, frames, -1).mean(1)


@ENCODERS.register_module()
class OpenCLIPTextEncoder(TextEncoder):
    """Per-token CLIP text features (``open_clip`` models with the built-in text tower).

    Args:
        model_name, pretrained, cache_dir, device: as for the video encoder.
        project_tokens: map every token by the text projection (joint space).
        batch_size: queries per forward.
    """

    def __init__(self, model_name: str = 'ViT-B-32', pretrained: Optional[str] = 'openai',
                 project_tokens: bool = True, batch_size: int = 64,
                 cache_dir: Optional[str] = None, device: Optional[str] = None):
        super().__init__()
        self._device = resolve_device(device)
        open_clip = _import_open_clip()
        self.clip = load_open_clip(model_name, pretrained, self._device, cache_dir)
        for name in ('token_embedding', 'positional_embedding', 'transformer', 'ln_final'):
            if not hasattr(self.clip, name):
                raise ValueError(f'{model_name}: per-token text features need a model with '
                                 "open_clip's built-in text tower (open_clip.CLIP)")
        self.tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
        self.project_tokens = project_tokens
        self.batch_size = batch_size
        self._checked = False

    def _tokens(self, ids: Tensor) -> Tensor:
        """Every token's output, as ``CLIP.encode_text`` computes it before pooling."""
        model = self.clip
        cast_dtype = model.transformer.get_cast_dtype()
        x = model.token_embedding(ids).to(cast_dtype) + model.positional_embedding.to(cast_dtype)
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
        if self.project_tokens and model.text_projection is not None:
            projection = model.text_projection
            x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
        return x

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> List[Tensor]:
        texts = [str(t) for t in texts]
        results = []
        for start in range(0, len(texts), self.batch_size):
            ids = self.tokenizer(texts[start:start + self.batch_size]).to(self._device)
            tokens = self._tokens(ids)
            # open_clip pads with 0 after the end token, the largest id of the vocabulary
            end = ids.argmax(dim=-1)
            mask = torch.arange(ids.shape[1], device=ids.device)[None] <= end[:, None]
            if not self._checked and self.project_tokens:
                self._check(ids, tokens, end)
            results += tokens_by_mask(tokens, mask)
        return results

    def _check(self, ids: Tensor, tokens: Tensor, end: Tensor) -> None:
        self._checked = True
        pooled = self.clip.encode_text(ids)
        ours = tokens[torch.arange(len(ids), device=ids.device), end]
        if pooled.shape != ours.shape or not torch.allclose(pooled.float(), ours.float(),
                                                            atol=1e-4, rtol=1e-3):
            warnings.warn('the end-token features differ from open_clip encode_text: this '
                          'model pools its text tower differently; check the token features')
