"""Hungarian matching of span predictions to GT spans, for a whole batch."""
from itertools import accumulate
from typing import List, Optional, Sequence

import torch
from mmengine.structures import InstanceData
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from sgdetr.registry import TASK_UTILS

#: cost of an invalid query: chosen only when nothing else is left
INVALID_COST = 1e6
#: samples whose costs are computed together (against each other's GTs too)
SAMPLES_PER_CHUNK = 16


@TASK_UTILS.register_module()
class SpanHungarianMatcher:
    """One-to-one assignment minimising the sum of match costs.

    Costs are computed for chunks of :data:`SAMPLES_PER_CHUNK` samples, one
    (chunk rows * Q, chunk GTs) matrix each; scipy then solves each sample's
    block. Several
    sets of predictions of one batch (a DETR head's decoder layers) may be
    stacked along the batch axis, ``S * B`` rows for ``B`` GT lists: each set
    is matched on its own, and the costs cross the device boundary once.

    Invalid queries (``valid`` False) are matched only when a sample has
    more GT spans than valid queries, and such matches are dropped.

    Args:
        match_costs: configs of costs on predictions with ``scores`` (class
            logits, (N, 1)) and ``spans`` (N, 2) start/end, e.g.
            ``mmdet.FocalLossCost``, :class:`SpanL1Cost`, :class:`SpanIoUCost`.
        iou_cost: config of the cost on predicted IoU (``iou_scores``),
            e.g. :class:`PredictedIoUCost`; applied only when the caller
            passes ``iou_scores`` (predictions without an IoU head, such as
            encoder proposals, are matched without it).
    """

    def __init__(self, match_costs: Sequence[dict],
                 iou_cost: Optional[dict] = None) -> None:
        self.match_costs = [TASK_UTILS.build(cfg) for cfg in match_costs]
        self.iou_cost = TASK_UTILS.build(iou_cost) if iou_cost else None

    @torch.no_grad()
    def __call__(self, cls_logits: Tensor, spans: Tensor,
                 gt_spans: List[Tensor],
                 iou_scores: Optional[Tensor] = None,
                 valid: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            cls_logits: (S*B, Q) foreground logits (S sets of the B samples).
            spans: (S*B, Q, 2) predicted start/end.
            gt_spans: B tensors (K_b, 2) of GT start/end.
            iou_scores: optional (S*B, Q) predicted IoU in [0, 1].
            valid: optional (S*B, Q) bool.
        Returns:
            (S*B, Q) long: index into ``gt_spans[b]`` of each query's GT, -1 for
            unmatched queries.
        """
        rows, num_queries = cls_logits.shape
        batch_size = len(gt_spans)
        if rows % batch_size:
            raise ValueError(f'{rows} prediction rows for {batch_size} samples')
        pred = InstanceData(scores=cls_logits.reshape(-1, 1).float(),
                            spans=spans.reshape(-1, 2).float())
        gt_all = torch.cat(list(gt_spans)).to(spans).reshape(-1, 2)
        gt = InstanceData(spans=gt_all.float(),
                          labels=gt_all.new_zeros(len(gt_all), dtype=torch.long))
        costs = list(self.match_costs)
        if iou_scores is not None and self.iou_cost is not None:
            pred.iou_scores = iou_scores.reshape(-1).float()
            costs.append(self.iou_cost)
        counts = [len(g) for g in gt_spans]
        gt_starts = [0, *accumulate(counts)]
        queries = torch.arange(num_queries, device=cls_logits.device)
        chunks, flat = [], []
        # costs of a chunk's queries against the chunk's GTs only: the work grows
        # with the batch, not with its square
        for first in range(0, batch_size, SAMPLES_PER_CHUNK):
            last = min(first + SAMPLES_PER_CHUNK, batch_size)
            chunk_rows = [s * batch_size + b for s in range(rows // batch_size)
                          for b in range(first, last)]
            index = torch.tensor(chunk_rows, device=cls_logits.device)
            gt_chunk = gt[gt_starts[first]:gt_starts[last]]
            if len(gt_chunk):
                cost = sum(c(pred[(index[:, None] * num_queries + queries).flatten()], gt_chunk)
                           for c in costs).view(len(index), num_queries, -1)
            else:
                cost = pred.scores.new_zeros(len(index), num_queries, 0)
            if valid is not None:
                cost = cost.masked_fill(~valid[index][..., None], INVALID_COST)
            chunks.append((chunk_rows, first, last, cost.shape))
            flat.append(cost.flatten())
        host = torch.cat(flat).cpu().split([f.numel() for f in flat])  # one transfer

        gt_indices = torch.full((rows, num_queries), -1, dtype=torch.long, device='cpu')
        for (chunk_rows, first, last, shape), cost in zip(chunks, host):
            blocks = cost.view(shape).split(counts[first:last], dim=-1)
            for i, row in enumerate(chunk_rows):
                found, cols = linear_sum_assignment(
                    blocks[row % batch_size - first][i].numpy())
                gt_indices[row, torch.as_tensor(found, dtype=torch.long)] = \
                    torch.as_tensor(cols, dtype=torch.long)
        gt_indices = gt_indices.to(cls_logits.device)
        if valid is not None:
            gt_indices = gt_indices.masked_fill(~valid, -1)
        return gt_indices
