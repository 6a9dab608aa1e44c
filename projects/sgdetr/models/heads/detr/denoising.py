"""Contrastive denoising queries: noised GT spans the decoder must restore (DINO)."""
from typing import List, Optional

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from sgdetr.registry import TASK_UTILS
from sgdetr.structures import span_cxw_to_xx, span_xx_to_cxw
from ...layers import inverse_sigmoid
from .query_group import QueryGroup


@TASK_UTILS.register_module()
class SpanDenoisingQueries:
    """Builds the denoising query group of a batch.

    With K the batch's largest GT count, ``G = max(1, num_queries // 2K)``
    groups of 2K queries: K positives, the GT spans with each end moved by
    ``u * width / 2 * noise_scale`` with ``|u|`` uniform in [0, 1), and K
    negatives with ``|u|`` in [negative_offset, 1 + negative_offset). The
    total is capped, not the groups. Each group attends only to itself; slots
    of samples with fewer GT spans are padding.

    Args:
        num_queries: cap on the denoising queries of a sample.
        noise_scale: scale of the noise (in half widths).
        negative_offset: extra displacement of the negatives.
        loss_weight: factor of the group's losses.
    """

    def __init__(self, num_queries: int = 300, noise_scale: float = 0.5,
                 negative_offset: float = 1.25, loss_weight: float = 0.5):
        self.num_queries = num_queries
        self.noise_scale = noise_scale
        self.negative_offset = negative_offset
        self.loss_weight = loss_weight

    def __call__(self, gt_spans: List[Tensor], content: Tensor,
                 batch_size: int) -> Optional[QueryGroup]:
        """gt_spans: B tensors (K_b, 2) normalised (centre, width); content: (H,)."""
        max_gt = max((len(g) for g in gt_spans), default=0)
        if max_gt == 0:
            return None
        groups = max(1, self.num_queries // (2 * max_gt))
        device = content.device
        gt = pad_sequence([g.to(device).float() for g in gt_spans], batch_first=True)
        gt_valid = pad_sequence([torch.ones(len(g), dtype=torch.bool, device=device)
                                 for g in gt_spans], batch_first=True)
        gt = gt[:, None, None].expand(-1, groups, 2, -1, -1)  # (B, G, pos/neg, K, 2)
        magnitude = torch.rand_like(gt)
        magnitude[:, :, 1] += self.negative_offset
        sign = torch.randint_like(gt, 0, 2) * 2 - 1
        shift = magnitude * sign * gt[..., 1:] / 2 * self.noise_scale
        noised = span_xx_to_cxw((span_cxw_to_xx(gt) + shift).clamp(0, 1))
        labels = torch.zeros_like(gt[..., 0])
        labels[:, :, 0] = 1
        shape = (batch_size, -1)
        return QueryGroup(
            name='dn', content=content.expand(batch_size, groups * 2 * max_gt, -1),
            reference=inverse_sigmoid(noised).reshape(*shape, 2),
            valid=gt_valid[:, None, None].expand(-1, groups, 2, -1).reshape(shape),
            labels=labels.reshape(shape), target_spans=gt.reshape(*shape, 2),
            span_loss='smooth_l1_cxw', loss_weight=self.loss_weight,
            block_size=2 * max_gt)
