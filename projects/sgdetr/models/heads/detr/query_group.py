"""Extra decoder queries with known targets (collaborative and denoising groups)."""
from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import Tensor


@dataclass
class QueryGroup:
    """Decoder queries trained against fixed targets, without matching.

    Every group attends only to itself and the matching queries never see
    it, so a group changes no prediction; it exists during training only.

    Attributes:
        name: prefixes the group's losses (``'collab'`` -> ``'collab.d0.loss_label'``).
        content: (B, G, H) content queries.
        reference: (B, G, 2) inverse-sigmoid (centre, width) references.
        valid: (B, G) bool; False marks padding (no attention, no loss).
        labels: (B, G) float, 1 for queries with a target span, 0 for negatives.
        target_spans: (B, G, 2) normalised (centre, width) targets (read where
            ``labels`` is 1).
        span_loss: ``'l1_xx'`` (L1 on start/end, collaborative queries as
            released) or ``'smooth_l1_cxw'`` (smooth L1 on centre/width, as
            the matching queries and the denoising groups).
        loss_weight: multiplies every loss of the group.
        block_size: split the group into blocks of this many queries that
            attend only within themselves (denoising groups); None = one block.
    """
    name: str
    content: Tensor
    reference: Tensor
    valid: Tensor
    labels: Tensor
    target_spans: Tensor
    span_loss: str = 'l1_xx'
    loss_weight: float = 0.5
    block_size: Optional[int] = None

    @property
    def size(self) -> int:
        return self.content.shape[1]

    @property
    def blocks(self) -> List[int]:
        """Sizes of the group's attention blocks."""
        if self.block_size is None:
            return [self.size]
        return [self.block_size] * (self.size // self.block_size)


def block_diagonal_mask(sizes, device) -> Tensor:
    """(sum, sum) bool attention mask, True inside each block of ``sizes`` only."""
    group = torch.repeat_interleave(torch.arange(len(sizes), device=device),
                                    torch.as_tensor(sizes, device=device))
    return group[:, None] == group[None, :]
