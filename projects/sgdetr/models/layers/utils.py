"""Small helpers shared by the model's modules."""
import copy

import torch
from torch import Tensor, nn


def clones(module: nn.Module, num: int) -> nn.ModuleList:
    """``num`` deep copies of ``module``: the layers of a stack start equal, as released."""
    return nn.ModuleList(copy.deepcopy(module) for _ in range(num))


def inverse_sigmoid(x: Tensor, eps: float = 1e-3) -> Tensor:
    """``log(x / (1 - x))`` of ``x`` clamped to [0, 1], both terms at least ``eps``."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))
