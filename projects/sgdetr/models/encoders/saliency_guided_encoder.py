"""SG-DETR encoder: from input features to saliency scores and the detection memory."""
from typing import Dict, Optional

from torch import Tensor, nn

from sgdetr.registry import MODELS
from .local_saliency import SALIENCY_PADDING_VALUE

DEFAULTS = dict(
    video_proj=dict(type='InputProjection', num_layers=2, dropout=0.5),
    text_proj=dict(type='InputProjection', num_layers=2, dropout=0.5),
    modality_embed=dict(type='ModalityEmbedding'),
    positional_encoding=dict(type='SinePositionalEncoding1D', normalize=True),
    local_saliency=dict(type='LocalSaliencyHead'),
    text_to_video=dict(type='TextToVideoEncoder', num_layers=2),
    context_encoder=dict(type='VideoContextEncoder', num_layers=3),
    global_saliency=dict(type='GlobalSaliencyModule', enabled=True),
)


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

    Args:
        video_dim: Dv of the input clips (the temporal endpoint features
            included).  text_dim: Dt.  embed_dims: hidden size H.
        saliency_space: ``'projected'`` or ``'raw'``.
    """

    def __init__(self, video_dim: int, text_dim: int, embed_dims: int = 256,
                 saliency_space: str = 'projected', **modules):
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
        if saliency_space == 'raw' and video_dim < text_dim:
            raise ValueError('saliency_space=raw compares clips and text in the input space: '
                             f'video_dim {video_dim} < text_dim {text_dim}')
        self.saliency_space = saliency_space
        if saliency_space == 'raw':
            local = dict(cfg['local_saliency'])
            pooling = local.get('pooling') or dict(type='LearnedAggregationPooling', num_layers=2)
            local['pooling'] = dict(pooling, mean_init=True)
            self.local_saliency = build(local, default_args=dict(embed_dims=text_dim))
        else:
            self.local_saliency = build(cfg['local_saliency'], default_args=size)
        self.text_to_video = build(cfg['text_to_video'], default_args=size)
        self.context_encoder = build(cfg['context_encoder'], default_args=size)
        self.global_saliency = build(cfg['global_saliency'], default_args=size)

    def forward(self, video: Tensor, video_mask: Tensor, text: Tensor,
                text_mask: Tensor) -> Dict[str, Tensor]:
        """Encode a batch of (video, query) pairs.

        Args:
            video: (B, L, Dv); video_mask: (B, L) bool, True = valid clip.
            text: (B, N, Dt); text_mask: (B, N) bool, True = valid token.
        Returns:
            dict of ``memory`` (B, L, H) F_g for the detection heads,
            ``pos`` (B, L, H), ``context`` (B, L, H) F before amplification,
            ``saliency_local`` / ``saliency_global`` (B, L) logits (the global
            one is None without the GSM), ``sentence`` (B, H) pooled query,
            and the projected tokens with their modality embedding, ``video``
            (B, L, H) and ``text`` (B, N, H), that the auxiliary token encoders
            and the negative pairs reuse.
        """
        clips, words = self.video_proj(video), self.text_proj(text)
        raw = self.saliency_space == 'raw'
        saliency_local, sentence = self.local_saliency(
            video[..., :self.text_dim] if raw else clips, video_mask, text if raw else words,
            text_mask)
        pos = self.positional_encoding(video_mask).to(clips.dtype)
        words, clips = self.modality_embed(words, clips)
        out = self.contextualise(clips, pos, video_mask, words, text_mask, saliency_local)
        # the clips a negative pair's local score reads: as released, the
        # embedded clips (the positive pair read them before the embedding)
        scored = video[..., :self.text_dim] if raw else clips
        return dict(out, pos=pos, saliency_local=saliency_local, sentence=sentence,
                    video=clips, text=words, scored_clips=scored)

    def contextualise(self, clips: Tensor, pos: Tensor, video_mask: Tensor, words: Tensor,
                      text_mask: Tensor, saliency_local: Tensor) -> Dict[str, Tensor]:
        """Text-to-video encoder, context encoder and GSM on embedded tokens.

        Returns ``context``, ``memory`` and ``saliency_global`` as :meth:`forward`.
        """
        fused = self.text_to_video(clips, pos, words, text_mask, saliency_local)
        context = self.context_encoder(fused, pos, video_mask)
        memory, saliency_global = self.global_saliency(context, saliency_local, video_mask)
        return dict(context=context, memory=memory, saliency_global=saliency_global)

    def negative_saliency(self, enc: Dict[str, Tensor], video_mask: Tensor,
                          text_mask: Tensor, videos: Tensor,
                          queries: Tensor) -> Dict[str, Optional[Tensor]]:
        """Saliency of video ``videos[p]`` paired with the query of sample ``queries[p]``.

        As released, the local score of a negative pair compares the clips
        *after* their modality embedding with the other sample's sentence token.

        Args:
            enc: output of :meth:`forward`.  video_mask: (B, L).  text_mask: (B, N).
            videos, queries: (P,) long sample indices.
        Returns:
            ``saliency_local`` and ``saliency_global`` (P, L) logits of the
            pairs (global None without the GSM).
        """
        clips, pos, mask = enc['video'][videos], enc['pos'][videos], video_mask[videos]
        saliency_local = self.local_saliency.score(enc['scored_clips'][videos],
                                                   enc['sentence'][queries])
        saliency_local = saliency_local.masked_fill(~mask, SALIENCY_PADDING_VALUE)
        out = self.contextualise(clips, pos, mask, enc['text'][queries], text_mask[queries],
                                 saliency_local)
        return dict(saliency_local=saliency_local, saliency_global=out['saliency_global'])
