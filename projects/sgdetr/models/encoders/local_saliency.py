"""Local saliency (paper §3.2): how well each clip matches the sentence token."""
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS
from ..layers import unit_vectors

#: Saliency value at padded clips: sigmoid() -> 0, softmax() -> 0, finite in fp16.
SALIENCY_PADDING_VALUE = -1e4


@MODELS.register_module()
class LocalSaliencyHead(nn.Module):
    """``S_local = cos(F_v, F_sent) * exp(t) + a`` with learned t and a.

    The sentence token F_sent pools the query's tokens
    (:class:`LearnedAggregationPooling`). The scale is learned as its log
    (it stays positive); t starts at 3 (scale ~20) so that cosines in
    [-1, 1] become usable logits. Padded clips get
    :data:`SALIENCY_PADDING_VALUE`.

    Args:
        embed_dims: H of the tokens compared.
        pooling: config of the sentence pooling.
        log_scale_init: t at initialisation.  bias_init: a at initialisation.
        stable_cosine: no gradient through zero vectors (:func:`unit_vectors`);
            False: ``F.normalize``, whose gradient at a zero clip is ``1 / eps``.
    """

    def __init__(self, embed_dims: int = 256,
                 pooling: dict = dict(type='LearnedAggregationPooling', num_layers=2),
                 log_scale_init: float = 3.0, bias_init: float = 0.0,
                 stable_cosine: bool = False):
        super().__init__()
        self.pooling = MODELS.build(pooling, default_args=dict(embed_dims=embed_dims))
        self.log_scale = nn.Parameter(torch.tensor(float(log_scale_init)))
        self.bias = nn.Parameter(torch.tensor(float(bias_init)))
        self.stable_cosine = stable_cosine

    def score(self, clips: Tensor, sentence: Tensor) -> Tensor:
        """(B, L, H) clips, (B, H) sentence -> (B, L) logits (no masking)."""
        normalize = unit_vectors if self.stable_cosine else partial(F.normalize, dim=-1)
        cosine = (normalize(clips) * normalize(sentence)[:, None]).sum(-1)
        return cosine * self.log_scale.exp() + self.bias

    def forward(self, clips: Tensor, video_mask: Tensor, words: Tensor,
                text_mask: Tensor):
        """Score the clips against the pooled query.

        Args:
            clips: (B, L, H); video_mask: (B, L) bool, True = valid clip.
            words: (B, N, H); text_mask: (B, N) bool, True = valid token.
        Returns:
            saliency (B, L) logits, sentence (B, H).
        """
        sentence = self.pooling(words, text_mask)
        saliency = self.score(clips, sentence)
        return saliency.masked_fill(~video_mask, SALIENCY_PADDING_VALUE), sentence
