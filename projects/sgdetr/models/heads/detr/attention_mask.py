"""Self-attention mask of decoder queries made of independent groups."""
from typing import Sequence

import torch
from torch import Tensor


def group_attention_mask(group_valid: Sequence[Tensor]) -> Tensor:
    """Block-diagonal mask: each query group attends only to itself.

    Queries are the concatenation, group after group, of the matching
    queries, the denoising groups and any other extra group. A group must not
    see another one: denoising queries would leak their GT to the matching
    queries, and each group is trained as if it were alone in the decoder.

    Args:
        group_valid: per group a (B, G_i) bool, True = real query (False =
            padding, which no query may attend to).
    Returns:
        (B, T, T) bool, T = sum G_i; True where query i may attend to key j.
        Every query also sees itself, so that the softmax of a padding query
        stays well defined.
    """
    valid = torch.cat(list(group_valid), dim=1)  # (B, T)
    sizes = torch.tensor([g.shape[1] for g in group_valid], device=valid.device)
    group_id = torch.repeat_interleave(
        torch.arange(len(sizes), device=valid.device), sizes)  # (T,)
    same_group = group_id[:, None] == group_id[None, :]  # (T, T)
    itself = torch.eye(len(group_id), dtype=torch.bool, device=valid.device)
    return (same_group[None] & valid[:, None, :]) | itself[None]
