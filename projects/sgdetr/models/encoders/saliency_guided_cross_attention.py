"""Saliency-guided cross attention (paper §3.3): video clips read the text query."""
from typing import Optional

from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn

from sgdetr.registry import MODELS
from ..layers import FeedForward, ProjectionFreeAttention


@MODELS.register_module()
class SaliencyGuidedCrossAttention(nn.Module):
    """One text-to-video layer: clips attend to the text, row i scaled by sigmoid(S_local_i).

    Softmax hands every clip a full unit of text, even a clip unrelated to the
    query; scaling clip i's attention row by its local saliency lets such a
    clip take in little text (paper eq. 4, read as weighting the video row;
    see the design notes). As released, queries and keys are used without
    projections (queries: clips + positions; keys and values: text tokens) and
    the layer is ``x = v + DropPath(Attn)``, ``x = LN2(x + DropPath(LN1(FFN(x))))``.

    Args:
        embed_dims: H.  num_heads: heads.  dropout: attention / FFN dropout.
        drop_path: stochastic depth.
        saliency_guided: False gives plain cross attention (ablation (a)).
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8, dropout: float = 0.1,
                 drop_path: float = 0.15, saliency_guided: bool = True):
        super().__init__()
        self.saliency_guided = saliency_guided
        self.attn = ProjectionFreeAttention(embed_dims, num_heads, dropout=dropout)
        nn.init.xavier_uniform_(self.attn.out_proj.weight)
        self.ffn = FeedForward(embed_dims, dropout=dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.drop_path = DropPath(drop_path)

    def forward(self, video: Tensor, pos: Tensor, text: Tensor, text_mask: Tensor,
                saliency: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            video: (B, L, H) clips; pos: (B, L, H) their positions.
            text: (B, N, H) tokens; text_mask: (B, N) bool, True = valid.
            saliency: (B, L) local saliency logits (unused when not guided).
        Returns:
            (B, L, H) updated clips.
        """
        weights = saliency.sigmoid() if self.saliency_guided else None
        x = video + self.drop_path(self.attn(video + pos, text, text, key_mask=text_mask,
                                             row_weights=weights))
        return self.norm2(x + self.drop_path(self.norm1(self.ffn(x))))
