"""Two-stage query selection (DINO) over the clips of a video."""
from typing import Dict

import torch
from mmdet.models.layers.transformer.utils import MLP, inverse_sigmoid
from mmengine.model import bias_init_with_prob
from torch import Tensor, nn

from sgdetr.registry import MODELS


@MODELS.register_module()
class SpanQuerySelector(nn.Module):
    """Scores a proposal span around every clip and keeps the best ones.

    Each real clip i of a sample with L_b clips proposes the span centred on
    it, (centre (i + 0.5) / L_b, width ``proposal_width``), refined by a
    regression on its memory feature, with a foreground logit. The
    ``num_queries`` best proposals over real clips become the decoder's
    reference spans (the caller detaches them); their own loss trains this
    selector. A sample with fewer real clips than queries repeats its best
    proposals, so that padding clips are never selected.

    Args:
        hidden_dim: memory feature size H.
        num_queries: k, proposals kept per sample.
        proposal_width: width of the initial span of every clip, as a
            fraction of the video.
    """

    def __init__(self, hidden_dim: int = 256, num_queries: int = 25,
                 proposal_width: float = 0.05) -> None:
        super().__init__()
        self.num_queries = num_queries
        self.proposal_width = proposal_width
        self.memory_proj = nn.Sequential(nn.Linear(hidden_dim, hidden_dim),
                                         nn.LayerNorm(hidden_dim))
        self.cls_branch = nn.Linear(hidden_dim, 1)
        self.span_branch = MLP(hidden_dim, hidden_dim, 2, 3)
        nn.init.constant_(self.cls_branch.bias, bias_init_with_prob(0.01))
        nn.init.zeros_(self.span_branch.layers[-1].weight)
        nn.init.zeros_(self.span_branch.layers[-1].bias)

    def clip_spans(self, memory_mask: Tensor) -> Tensor:
        """(B, L) bool -> (B, L, 2) initial (centre, width) of every clip,
        normalised by each sample's number of real clips."""
        num_clips = memory_mask.sum(1, keepdim=True).clamp(min=1)  # (B, 1)
        position = torch.arange(memory_mask.size(1), device=memory_mask.device)
        centre = ((position[None] + 0.5) / num_clips).clamp(max=1.0)  # (B, L)
        return torch.stack((centre, torch.full_like(centre, self.proposal_width)), -1)

    def forward(self, memory: Tensor, memory_mask: Tensor) -> Dict[str, Tensor]:
        """
        Args:
            memory: (B, L, H).  memory_mask: (B, L) bool, True = real clip.
        Returns:
            dict with ``cls_logits`` (B, k), ``spans`` (B, k, 2) (centre,
            width), ``clip_indices`` (B, k) long: the selected proposals,
            best first; ``valid`` (B, k) bool: False on the slots that repeat
            a proposal because the video has fewer than k clips.
        """
        feats = self.memory_proj(memory)
        cls_logits = self.cls_branch(feats).squeeze(-1)  # (B, L)
        spans = (self.span_branch(feats) +
                 inverse_sigmoid(self.clip_spans(memory_mask))).sigmoid()

        ranking = cls_logits.detach().masked_fill(~memory_mask, float('-inf'))
        order = ranking.argsort(dim=1, descending=True)  # real clips first
        num_real = memory_mask.sum(1, keepdim=True)
        slots = torch.arange(self.num_queries, device=memory.device)[None]
        clip_indices = order.gather(1, slots % num_real.clamp(min=1))  # (B, k)
        return dict(
            cls_logits=cls_logits.gather(1, clip_indices),
            spans=spans.gather(1, clip_indices[..., None].expand(-1, -1, 2)),
            clip_indices=clip_indices,
            valid=slots < num_real)
