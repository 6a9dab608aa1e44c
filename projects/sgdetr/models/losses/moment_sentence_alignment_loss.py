"""Moment-sentence alignment loss (``ms_align`` as released)."""
from typing import Dict

import torch
from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss
from torch import Tensor, nn
from torch.nn import functional as F

from sgdetr.registry import MODELS


@MODELS.register_module()
class MomentSentenceAlignmentLoss(nn.Module):
    """Each moment token should match its own sentence token among the batch's.

    The (B, B) cosine similarities are logits of B one-vs-rest binary focal
    losses (column c: is sentence c this moment's?), each averaged over the
    rows and summed over the columns.

    Args:
        gamma, alpha: of the focal loss.  loss_weight: factor.
    """

    def __init__(self, gamma: float = 2.0, alpha: float = 0.5, loss_weight: float = 1.0):
        super().__init__()
        self.gamma, self.alpha, self.loss_weight = gamma, alpha, loss_weight

    def forward(self, moment: Tensor, sentence: Tensor) -> Dict[str, Tensor]:
        """moment (B, H), sentence (B, H) tokens -> ``loss_align``."""
        similarity = F.normalize(moment, dim=-1) @ F.normalize(sentence, dim=-1).T
        target = torch.eye(len(similarity), device=similarity.device, dtype=similarity.dtype)
        loss = py_sigmoid_focal_loss(similarity, target, gamma=self.gamma, alpha=self.alpha,
                                     reduction='sum') / len(similarity)
        return dict(loss_align=loss * self.loss_weight)
