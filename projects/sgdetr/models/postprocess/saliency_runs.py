"""Candidate windows from per-clip curves."""
from typing import List, Tuple

import torch
from torch import Tensor


def runs_above_thresholds(curve: Tensor, mask: Tensor, thresholds: Tensor
                          ) -> List[Tuple[Tensor, Tensor]]:
    """Maximal runs of clips whose value is >= each threshold.

    Args:
        curve: (B, L) values, mask: (B, L) bool valid clips, thresholds: (T,).
    Returns:
        Per sample, unique runs as clip-index spans (R, 2) ``[first, last + 1)``
        (long) and their scores (R,): the mean of ``curve`` inside the run.
    """
    B, L = curve.shape
    above = (curve.unsqueeze(1) >= thresholds.view(1, -1, 1)) & mask.unsqueeze(1)
    padded = torch.nn.functional.pad(above.to(torch.int8), (1, 1))
    edges = padded.diff(dim=-1)                       # (B, T, L + 1)
    # Row-major nonzero keeps the starts and ends of one row in order, and they
    # alternate, so the k-th start pairs with the k-th end.
    starts = (edges == 1).nonzero()
    ends = (edges == -1).nonzero()[:, 2]
    batch, first = starts[:, 0], starts[:, 2]
    cumsum = torch.nn.functional.pad(curve.cumsum(-1), (1, 0))
    run_scores = (cumsum[batch, ends] - cumsum[batch, first]) / (ends - first)
    # The same run often appears at several thresholds: keep it once.
    key = (batch * (L + 1) + first) * (L + 1) + ends
    key, inverse = key.unique(return_inverse=True)
    score = run_scores.new_zeros(len(key)).scatter_(0, inverse, run_scores)
    batch_u = key // ((L + 1) ** 2)
    first_u = (key // (L + 1)) % (L + 1)
    end_u = key % (L + 1)
    spans = torch.stack((first_u, end_u), -1)
    counts = torch.bincount(batch_u, minlength=B).tolist()
    return list(zip(spans.split(counts), score.split(counts)))
