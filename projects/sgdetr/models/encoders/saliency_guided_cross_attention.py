"""Saliency-guided cross attention (paper §3.3): video clips read the text query."""
from typing import Optional

from torch import Tensor, nn

from sgdetr.registry import MODELS


@MODELS.register_module()
class SaliencyGuidedCrossAttention(nn.Module):
    """Multi-head cross attention whose row i is scaled by sigmoid(S_local_i).

    ``W = softmax(Q K^T / sqrt(d_head)) * sigmoid(S_local)[:, None]`` with
    queries from the video clips and keys/values from the text tokens. Softmax
    always hands a clip a full unit of text, even a clip that has nothing to do
    with the query; the sigmoid of the clip's local saliency lets such a clip
    take in little text while the softmax still ranks the text tokens
    (paper eq. 4, weighting the video row, see the design notes).

    Padded text tokens get zero weight; a sample without any valid text token
    gets zero output instead of NaN. Rows of padded clips are computed but never
    mix into real rows (queries are independent).

    Args:
        embed_dims: hidden size H.
        num_heads: attention heads.
        attn_drop: dropout on the attention weights.
        saliency_guided: False gives plain cross attention (ablation (a)).
    """

    def __init__(self, embed_dims: int = 256, num_heads: int = 8,
                 attn_drop: float = 0.0, saliency_guided: bool = True):
        super().__init__()
        assert embed_dims % num_heads == 0
        self.num_heads = num_heads
        self.saliency_guided = saliency_guided
        self.q_proj = nn.Linear(embed_dims, embed_dims)
        self.k_proj = nn.Linear(embed_dims, embed_dims)
        self.v_proj = nn.Linear(embed_dims, embed_dims)
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        self.attn_drop = nn.Dropout(attn_drop)

    def attention_weights(self, query: Tensor, key: Tensor, key_mask: Tensor,
                          saliency: Optional[Tensor] = None) -> Tensor:
        """(B, L, H), (B, N, H), (B, N) bool, (B, L) -> (B, heads, L, N) weights W."""
        B, L, _ = query.shape
        q = self.q_proj(query).view(B, L, self.num_heads, -1).transpose(1, 2)
        k = self.k_proj(key).view(B, key.shape[1], self.num_heads, -1).transpose(1, 2)
        logits = q @ k.transpose(-1, -2) / q.shape[-1]**0.5
        has_text = key_mask.any(-1, keepdim=True)
        # without any valid token a row would be softmax(-inf..) = NaN: let it
        # attend everywhere, then zero it
        key_mask = key_mask | ~has_text
        weights = logits.masked_fill(~key_mask[:, None, None], float('-inf')).softmax(-1)
        weights = weights * has_text[:, None, None]
        if self.saliency_guided and saliency is not None:
            weights = weights * saliency.sigmoid()[:, None, :, None]
        return weights

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_mask: Tensor,
                saliency: Optional[Tensor] = None) -> Tensor:
        """Attend from video to text.

        Args:
            query: (B, L, H) video tokens (positional encoding included).
            key, value: (B, N, H) text tokens.
            key_mask: (B, N) bool, True = valid text token.
            saliency: (B, L) local saliency logits; ignored when not guided.
        Returns:
            (B, L, H).
        """
        B, N, _ = value.shape
        weights = self.attn_drop(self.attention_weights(query, key, key_mask, saliency))
        v = self.v_proj(value).view(B, N, self.num_heads, -1).transpose(1, 2)
        out = (weights @ v).transpose(1, 2).flatten(2)  # (B, L, H)
        return self.out_proj(out)
