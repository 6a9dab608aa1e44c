"""Contrastive denoising query groups (DN-DETR / DINO) for 1D spans."""
from typing import List

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from sgdetr.models.layers import QueryGroup
from sgdetr.registry import TASK_UTILS
from sgdetr.structures import span_xx_to_cxw


@TASK_UTILS.register_module()
class SpanDenoisingGenerator:
    """Builds denoising query groups from the GT spans of a batch.

    Every group holds, for each GT span, a positive query (both ends moved
    by less than ``noise_scale`` half-widths; target: that GT) and a negative
    query (ends moved by ``noise_scale`` to ``2 * noise_scale`` half-widths;
    target: background), laid out as [positives | negatives], each part
    padded to the batch's largest GT count (``valid`` False). Negatives teach
    the decoder to reject near-miss references, not only to fix them.

    Args:
        num_groups: number of groups; each is a separate :class:`QueryGroup`
            so that groups cannot attend to each other.
        noise_scale: noise magnitude in half-widths of the GT span.
        name: loss prefix shared by all groups (their losses are averaged).
        loss_weight: weight of the denoising losses.
    """

    def __init__(self, num_groups: int = 5, noise_scale: float = 1.0,
                 name: str = 'dn', loss_weight: float = 1.0) -> None:
        self.num_groups = num_groups
        self.noise_scale = noise_scale
        self.name = name
        self.loss_weight = loss_weight

    def __call__(self, gt_spans: List[Tensor]) -> List[QueryGroup]:
        """
        Args:
            gt_spans: B tensors (K_b, 2) of GT start/end in [0, 1].
        Returns:
            ``num_groups`` groups of 2 * max K_b queries each (none if the
            batch has no GT).
        """
        max_gts = max((len(g) for g in gt_spans), default=0)
        if max_gts == 0 or self.num_groups == 0:
            return []
        gt = pad_sequence(list(gt_spans), batch_first=True)  # (B, K, 2)
        gt_valid = pad_sequence(
            [torch.ones(len(g), dtype=torch.bool, device=gt.device) for g in gt_spans],
            batch_first=True)  # (B, K)
        batch_size, num_groups = gt.size(0), self.num_groups

        # (B, N, 2, K, 2): group, positive/negative, GT, start/end.
        magnitude = torch.rand(batch_size, num_groups, 2, max_gts, 2, device=gt.device)
        magnitude[:, :, 1] += 1.0
        sign = torch.randint(0, 2, magnitude.shape, device=gt.device) * 2 - 1
        half_width = (gt[..., 1] - gt[..., 0])[:, None, None, :, None] / 2
        noisy = gt[:, None, None] + sign * magnitude * half_width * self.noise_scale
        # Large noise may swap the ends; the noisy span is whatever they bound.
        noisy = noisy.clamp(0, 1).sort(dim=-1).values
        ref_spans = span_xx_to_cxw(noisy).flatten(2, 3)  # (B, N, 2K, 2)

        gt_index = torch.arange(max_gts, device=gt.device).expand(batch_size, -1)
        gt_index = gt_index.masked_fill(~gt_valid, -1)
        gt_indices = torch.cat((gt_index, torch.full_like(gt_index, -1)), 1)  # (B, 2K)
        valid = gt_valid.repeat(1, 2)  # (B, 2K)
        return [
            QueryGroup(name=self.name, ref_spans=ref_spans[:, n],
                       gt_indices=gt_indices, valid=valid,
                       loss_weight=self.loss_weight)
            for n in range(num_groups)
        ]
