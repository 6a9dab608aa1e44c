"""Moment-sentence alignment (CG-DETR, used by paper §3.2 and §3.7)."""
from typing import Dict

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS
from ..encoders.pooling_encoder import masked_mean


@MODELS.register_module()
class MomentSentenceAlignmentLoss(nn.Module):
    """The sentence token must match its GT moment better than anything else.

    Moment token m_i = mean of the clip embeddings inside the GT windows of
    video i; non-moment token n_i = mean of its other real clips. Row i of the
    logits holds ``cos(m_i, s_j) / T`` and ``cos(n_i, s_j) / T`` for every
    sentence token s_j of the batch; cross-entropy with target ``cos(m_i, s_i)``.
    So a query is pulled to its own moment and pushed from other queries and
    from the rest of its own video. Videos without a moment clip are skipped.

    Args:
        temperature: divides the cosines (CG-DETR uses plain cosines: 1).
        loss_weight: multiplies the loss.
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, sentence: Tensor, clip_embed: Tensor, moment_mask: Tensor,
                video_mask: Tensor) -> Dict[str, Tensor]:
        """Compute the loss.

        Args:
            sentence: (B, D) sentence tokens.
            clip_embed: (B, L, D) clip embeddings in the same space.
            moment_mask: (B, L) bool, clip inside a GT window.
            video_mask: (B, L) bool, True = real clip.
        Returns:
            ``loss_align`` scalar.
        """
        in_moment = moment_mask.bool() & video_mask.bool()
        off_moment = ~moment_mask.bool() & video_mask.bool()
        sentence = F.normalize(sentence, dim=-1)
        moment = F.normalize(masked_mean(clip_embed, in_moment), dim=-1)
        non_moment = F.normalize(masked_mean(clip_embed, off_moment), dim=-1)
        logits = torch.cat((moment @ sentence.T, non_moment @ sentence.T), 1)
        logits = logits / self.temperature  # (B, 2B)
        B = sentence.shape[0]
        no_rest = torch.cat((torch.zeros_like(in_moment[:, :B]),
                             ~off_moment.any(1, keepdim=True).expand(-1, B)), 1)
        logits = logits.masked_fill(no_rest, float('-inf'))
        has_moment = in_moment.any(1)
        target = torch.arange(B, device=logits.device)
        loss = F.cross_entropy(logits[has_moment], target[has_moment], reduction='sum')
        return dict(loss_align=self.loss_weight * loss / has_moment.sum().clamp(min=1))
