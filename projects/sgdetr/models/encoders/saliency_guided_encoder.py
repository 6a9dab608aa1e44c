"""SG-DETR encoder: from input features to saliency scores and the detection memory."""
from typing import Dict, Optional, Tuple

from torch import Tensor, nn

from sgdetr.registry import MODELS

DEFAULTS = dict(
    video_proj=dict(type='InputProjection', num_layers=2, dropout=0.5),
    text_proj=dict(type='InputProjection', num_layers=2, dropout=0.5),
    positional_encoding=dict(type='SinePositionalEncoding1D', normalize=True),
    pooling_encoder=dict(type='PoolingEncoder', num_layers=2, key_dims=256, num_heads=8),
    local_saliency=dict(type='LocalSaliencyHead', alpha_init=10.0, beta_init=0.0),
    cross_encoder=dict(type='SaliencyGuidedCrossAttentionEncoder', num_layers=2,
                       num_heads=8, feedforward_dims=1024, dropout=0.1,
                       saliency_guided=True),
    context_encoder=dict(type='VideoContextEncoder', num_layers=3, num_heads=8,
                         feedforward_dims=1024, dropout=0.1),
    global_saliency=dict(type='GlobalSaliencyModule', enabled=True),
)


def _merge(default: dict, override: Optional[dict]) -> dict:
    override = dict(override or {})
    if override.get('type', default['type']) != default['type']:
        return override
    return {**default, **override}


@MODELS.register_module()
class SaliencyGuidedEncoder(nn.Module):
    """Input projections, local saliency, SGCA encoder, context encoder, GSM.

    ``saliency_space`` says where the local saliency (and the moment-sentence
    alignment) lives:

    - ``'raw'``: the pooling runs over the raw text tokens and the sentence token
      is compared with the raw clip features. With features from one aligned
      video-text model (InternVideo2) the untrained model then scores clips
      exactly like the zero-shot cosine baseline (the pooling starts as mean
      pooling). Needs ``video_dim == text_dim``.
    - ``'projected'``: both sides after the input projections (size H).
    - ``'auto'``: ``'raw'`` when the dims match, else ``'projected'``.

    Every sub-module is a config dict merged over :data:`DEFAULTS` (unless it
    names another ``type``), e.g. ``cross_encoder=dict(saliency_guided=False)``
    or ``global_saliency=dict(enabled=False)`` for the ablations. Sizes
    (``in_channels``, ``embed_dims``, ...) are filled in from the arguments.
    Some layers start at zero on purpose (pooling queries, the global offset):
    a model-wide weight init must leave them alone.

    Args:
        video_dim: Dv.  text_dim: Dt.  embed_dims: hidden size H.
        saliency_space: ``'auto' | 'raw' | 'projected'``.
        video_proj, text_proj, positional_encoding, pooling_encoder,
        local_saliency, cross_encoder, context_encoder, global_saliency:
            sub-module configs, see :data:`DEFAULTS`.
    """

    def __init__(self, video_dim: int, text_dim: int, embed_dims: int = 256,
                 saliency_space: str = 'auto',
                 video_proj: Optional[dict] = None, text_proj: Optional[dict] = None,
                 positional_encoding: Optional[dict] = None,
                 pooling_encoder: Optional[dict] = None,
                 local_saliency: Optional[dict] = None,
                 cross_encoder: Optional[dict] = None,
                 context_encoder: Optional[dict] = None,
                 global_saliency: Optional[dict] = None):
        super().__init__()
        module_cfgs = dict(video_proj=video_proj, text_proj=text_proj,
                           positional_encoding=positional_encoding,
                           pooling_encoder=pooling_encoder, local_saliency=local_saliency,
                           cross_encoder=cross_encoder, context_encoder=context_encoder,
                           global_saliency=global_saliency)
        if saliency_space == 'auto':
            saliency_space = 'raw' if video_dim == text_dim else 'projected'
        assert saliency_space in ('raw', 'projected'), saliency_space
        assert saliency_space == 'projected' or video_dim == text_dim, \
            "saliency_space='raw' needs video_dim == text_dim"
        self.saliency_space = saliency_space
        self.video_dim, self.text_dim = video_dim, text_dim
        self.embed_dims = embed_dims
        cfg = {name: _merge(DEFAULTS[name], module_cfgs[name]) for name in DEFAULTS}
        build = MODELS.build
        self.video_proj = build(cfg['video_proj'], default_args=dict(
            in_channels=video_dim, out_channels=embed_dims))
        self.text_proj = build(cfg['text_proj'], default_args=dict(
            in_channels=text_dim, out_channels=embed_dims))
        self.positional_encoding = build(cfg['positional_encoding'],
                                         default_args=dict(num_feats=embed_dims))
        self.pooling_encoder = build(cfg['pooling_encoder'], default_args=dict(
            embed_dims=text_dim if saliency_space == 'raw' else embed_dims))
        self.local_saliency = build(cfg['local_saliency'])
        self.cross_encoder = build(cfg['cross_encoder'],
                                   default_args=dict(embed_dims=embed_dims))
        self.context_encoder = build(cfg['context_encoder'],
                                     default_args=dict(embed_dims=embed_dims))
        self.global_saliency = build(cfg['global_saliency'],
                                     default_args=dict(embed_dims=embed_dims))

    def local(self, video: Tensor, video_mask: Tensor, text: Tensor, text_mask: Tensor,
              video_tokens: Optional[Tensor] = None,
              text_tokens: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
        """Local saliency: -> S_local (B, L), sentence (B, D), clip embeddings (B, L, D).

        D is Dv in the raw space and H in the projected one; the projected
        tokens are computed here unless given.
        """
        if self.saliency_space == 'raw':
            clips, words = video, text
        else:
            clips = self.video_proj(video) if video_tokens is None else video_tokens
            words = self.text_proj(text) if text_tokens is None else text_tokens
        sentence = self.pooling_encoder(words, text_mask)
        return self.local_saliency(sentence, clips, video_mask), sentence, clips

    def forward(self, video: Tensor, video_mask: Tensor, text: Tensor,
                text_mask: Tensor) -> Dict[str, Tensor]:
        """Encode a batch of (video, query) pairs.

        Args:
            video: (B, L, Dv); video_mask: (B, L) bool, True = real clip.
            text: (B, N, Dt); text_mask: (B, N) bool, True = valid token.
        Returns:
            dict with ``memory`` (B, L, H) F_g for the detection heads (zero at
            padding), ``memory_pos`` (B, L, H), ``memory_mask`` (B, L) bool,
            ``context`` (B, L, H) F-hat before amplification, ``saliency_local``
            and ``saliency_global`` (B, L) logits (``SALIENCY_PADDING_VALUE``
            at padding; ``saliency_global`` is the HD output), ``sentence``
            (B, D) and ``clip_embed`` (B, L, D) compared by the local saliency.
        """
        video_mask, text_mask = video_mask.bool(), text_mask.bool()
        video_tokens, text_tokens = self.video_proj(video), self.text_proj(text)
        pos = self.positional_encoding(video_mask).to(video_tokens.dtype)
        saliency_local, sentence, clip_embed = self.local(
            video, video_mask, text, text_mask, video_tokens, text_tokens)
        cross = self.cross_encoder(video_tokens, pos, video_mask, text_tokens, text_mask,
                                   saliency_local)
        context = self.context_encoder(cross, pos, video_mask)
        memory, saliency_global = self.global_saliency(context, saliency_local, video_mask)
        return dict(memory=memory, memory_pos=pos, memory_mask=video_mask, context=context,
                    saliency_local=saliency_local, saliency_global=saliency_global,
                    sentence=sentence, clip_embed=clip_embed)

    def forward_saliency(self, video: Tensor, video_mask: Tensor, text: Tensor,
                         text_mask: Tensor, with_global: bool = True) -> Dict[str, Tensor]:
        """Saliency only, e.g. of a video paired with another sample's query.

        ``with_global=False`` is cheap (pooling and cosine only: no attention
        over the video) and returns ``saliency_local``; otherwise this is the
        full forward and both (B, L) logits are returned.
        """
        if with_global:
            out = self.forward(video, video_mask, text, text_mask)
            return dict(saliency_local=out['saliency_local'],
                        saliency_global=out['saliency_global'])
        saliency_local = self.local(video, video_mask.bool(), text, text_mask.bool())[0]
        return dict(saliency_local=saliency_local)
