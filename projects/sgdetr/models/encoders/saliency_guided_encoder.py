"""SG-DETR encoder: from input features to saliency scores and the detection memory."""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from sgdetr.registry import MODELS
from .local_saliency import SALIENCY_PADDING_VALUE

#: the sub-modules and their types (their other defaults are their classes')
DEFAULTS = dict(
    video_proj=dict(type='InputProjection'),
    text_proj=dict(type='InputProjection'),
    modality_embed=dict(type='ModalityEmbedding'),
    positional_encoding=dict(type='SinePositionalEncoding1D'),
    local_saliency=dict(type='LocalSaliencyHead'),
    text_to_video=dict(type='TextToVideoEncoder'),
    context_encoder=dict(type='VideoContextEncoder'),
    global_saliency=dict(type='GlobalSaliencyModule'),
)


@dataclass
class EncoderOutput:
    """What the encoder hands to the heads and to the auxiliary losses.

    Attributes:
        memory: (B, L, H) F_g, the detection memory.
        pos: (B, L, H) positional encoding of the clips.
        context: (B, L, H) F, the context encoder's output before amplification.
        saliency_local: (B, L) logits.  saliency_global: (B, L) logits, or None
            without the GSM.
        sentence: (B, H') pooled query (H' = H, or Dt with ``saliency_space='raw'``).
        video: (B, L, H), text: (B, N, H) projected tokens with their modality
            embedding (the token encoders and the negative pairs reuse them).
        scored_clips: the clips a negative pair's local score reads.
        levels, level_masks: the feature pyramid over ``memory``, per level
            (B, L_k, H) / (B, L_k) (filled in by the detector).
    """
    memory: Tensor
    pos: Tensor
    context: Tensor
    saliency_local: Tensor
    saliency_global: Optional[Tensor]
    sentence: Tensor
    video: Tensor
    text: Tensor
    scored_clips: Tensor
    levels: List[Tensor] = field(default_factory=list)
    level_masks: List[Tensor] = field(default_factory=list)

    @property
    def saliency(self) -> Tensor:
        """(B, L) the reported saliency: the global one, else the local one."""
        return self.saliency_local if self.saliency_global is None else self.saliency_global


@torch.no_grad()
def copy_projection(source: nn.Module, target: nn.Module) -> None:
    """Give ``target`` the parameters of ``source`` (same structure). Where ``target``
    reads more input channels, its extra Linear weights start at 0 and its extra
    LayerNorm channels at the identity."""
    for src, dst in zip(source.modules(), target.modules()):
        if isinstance(dst, (nn.Linear, nn.LayerNorm)):
            dst.reset_parameters()
            if isinstance(dst, nn.Linear):
                nn.init.zeros_(dst.weight)
            for name, value in src.named_parameters(recurse=False):
                getattr(dst, name)[tuple(slice(0, n) for n in value.shape)] = value


def merge_config(default: dict, override: Optional[dict]) -> dict:
    """``override`` on top of ``default``, unless it names another type."""
    override = dict(override or {})
    if override.get('type', default['type']) != default['type']:
        return override
    return {**default, **override}


@MODELS.register_module()
class SaliencyGuidedEncoder(nn.Module):
    """Input projections, local saliency, text-to-video encoder, context encoder, GSM.

    Every sub-module is a config merged over :data:`DEFAULTS` (unless it
    names another ``type``), e.g. ``text_to_video=dict(layer=dict(
    saliency_guided=False))`` or ``global_saliency=dict(enabled=False)`` for the
    ablations. Sizes are filled in from the arguments.

    ``saliency_space`` says where the local saliency compares clips with the
    sentence: ``'projected'`` (as released: both after the input
    projections) or ``'raw'``: the input features themselves, for features
    of one aligned video-text space (the clip's first ``text_dim`` channels,
    i.e. without the temporal endpoints); the pooling then starts as mean
    pooling, so an untrained model scores clips like the zero-shot cosine.

    ``aligned_init`` keeps the released architecture and its projected
    saliency but starts it where aligned features already are: the video
    projection starts as a copy of the text projection (on the clip's first
    ``text_dim`` channels, zero weights on the endpoint features) and the
    sentence pooling as mean pooling, so the projected cosine starts close to
    the input features' cosine (see docs/design.md, "Why the released model
    learns moment retrieval late").

    Args:
        video_dim: Dv of the input clips (the temporal endpoint features
            included).  text_dim: Dt.  embed_dims: hidden size H.
        saliency_space: ``'projected'`` or ``'raw'``.
        aligned_init: start the projections and the pooling aligned (needs
            features of one video-text space).
    """

    def __init__(self, video_dim: int, text_dim: int, embed_dims: int = 256,
                 saliency_space: str = 'projected', aligned_init: bool = False, **modules):
        super().__init__()
        unknown = set(modules) - set(DEFAULTS)
        if unknown:
            raise TypeError(f'unknown encoder sub-modules {sorted(unknown)}; '
                            f'known: {sorted(DEFAULTS)}')
        cfg = {name: merge_config(DEFAULTS[name], modules.get(name)) for name in DEFAULTS}
        build, size = MODELS.build, dict(embed_dims=embed_dims)
        self.video_dim, self.text_dim, self.embed_dims = video_dim, text_dim, embed_dims
        self.video_proj = build(cfg['video_proj'], default_args=dict(
            in_channels=video_dim, out_channels=embed_dims))
        self.text_proj = build(cfg['text_proj'], default_args=dict(
            in_channels=text_dim, out_channels=embed_dims))
        self.modality_embed = build(cfg['modality_embed'], default_args=size)
        self.positional_encoding = build(cfg['positional_encoding'],
                                         default_args=dict(num_feats=embed_dims))
        if saliency_space not in ('projected', 'raw'):
            raise ValueError(f"saliency_space must be 'projected' or 'raw', got {saliency_space!r}")
        if (saliency_space == 'raw' or aligned_init) and video_dim < text_dim:
            raise ValueError(f'saliency_space={saliency_space!r}, aligned_init={aligned_init} '
                             'read the clips in the text space: video_dim '
                             f'{video_dim} < text_dim {text_dim}')
        self.saliency_space = saliency_space
        local = dict(cfg['local_saliency'])
        if saliency_space == 'raw' or aligned_init:
            pooling = local.get('pooling') or dict(type='LearnedAggregationPooling', num_layers=2)
            local['pooling'] = dict(pooling, mean_init=True)
        self.local_saliency = build(local, default_args=dict(
            embed_dims=text_dim if saliency_space == 'raw' else embed_dims))
        if aligned_init:
            copy_projection(self.text_proj, self.video_proj)
        self.text_to_video = build(cfg['text_to_video'], default_args=size)
        self.context_encoder = build(cfg['context_encoder'], default_args=size)
        self.global_saliency = build(cfg['global_saliency'], default_args=size)

    def forward(self, video: Tensor, video_mask: Tensor, text: Tensor,
                text_mask: Tensor) -> EncoderOutput:
        """Encode a batch of (video, query) pairs.

        Args:
            video: (B, L, Dv); video_mask: (B, L) bool, True = valid clip.
            text: (B, N, Dt); text_mask: (B, N) bool, True = valid token.
        """
        clips, words = self.video_proj(video), self.text_proj(text)
        raw = self.saliency_space == 'raw'
        saliency_local, sentence = self.local_saliency(
            video[..., :self.text_dim] if raw else clips, video_mask, text if raw else words,
            text_mask)
        pos = self.positional_encoding(video_mask).to(clips.dtype)
        words, clips = self.modality_embed(words, clips)
        context, memory, saliency_global = self.contextualise(
            clips, pos, video_mask, words, text_mask, saliency_local)
        # the clips a negative pair's local score reads: as released, the
        # embedded clips (the positive pair read them before the embedding)
        scored = video[..., :self.text_dim] if raw else clips
        return EncoderOutput(memory=memory, pos=pos, context=context,
                             saliency_local=saliency_local, saliency_global=saliency_global,
                             sentence=sentence, video=clips, text=words, scored_clips=scored)

    def contextualise(self, clips: Tensor, pos: Tensor, video_mask: Tensor, words: Tensor,
                      text_mask: Tensor, saliency_local: Tensor
                      ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Text-to-video encoder, context encoder and GSM on embedded tokens:
        ``context``, ``memory`` and ``saliency_global`` of :class:`EncoderOutput`."""
        fused = self.text_to_video(clips, pos, words, text_mask, saliency_local)
        context = self.context_encoder(fused, pos, video_mask)
        memory, saliency_global = self.global_saliency(context, saliency_local, video_mask)
        return context, memory, saliency_global

    def negative_saliency(self, enc: EncoderOutput, video_mask: Tensor,
                          text_mask: Tensor, videos: Tensor,
                          queries: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Saliency of video ``videos[p]`` paired with the query of sample ``queries[p]``.

        As released, the local score of a negative pair compares the clips
        *after* their modality embedding with the other sample's sentence token.

        Args:
            enc: output of :meth:`forward`.  video_mask: (B, L).  text_mask: (B, N).
            videos, queries: (P,) long sample indices.
        Returns:
            local and global (P, L) saliency logits of the pairs (global None
            without the GSM).
        """
        clips, pos, mask = enc.video[videos], enc.pos[videos], video_mask[videos]
        saliency_local = self.local_saliency.score(enc.scored_clips[videos],
                                                   enc.sentence[queries])
        saliency_local = saliency_local.masked_fill(~mask, SALIENCY_PADDING_VALUE)
        _, _, saliency_global = self.contextualise(clips, pos, mask, enc.text[queries],
                                                   text_mask[queries], saliency_local)
        return saliency_local, saliency_global
