"""Small helpers shared by the model's modules."""
import copy

import torch
from torch import Tensor, nn


def clones(module: nn.Module, num: int) -> nn.ModuleList:
    """``num`` deep copies of ``module``: the layers of a stack start equal, as released."""
    return nn.ModuleList(copy.deepcopy(module) for _ in range(num))


def skippable_mask(mask: Tensor) -> bool:
    """Whether a layer may skip applying ``mask`` (True = real element): it has no
    padding and lives on the CPU. Reading a GPU tensor's value waits for the GPU to
    finish its queue, so on an accelerator masks are always applied (multiplying by
    ones gives the same result)."""
    return mask.device.type == 'cpu' and bool(mask.all())


def inverse_sigmoid(x: Tensor, eps: float = 1e-3) -> Tensor:
    """``log(x / (1 - x))`` of ``x`` clamped to [0, 1], both terms at least ``eps``."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def unit_vectors(x: Tensor, eps: float = 1e-12) -> Tensor:
    """``x / max(|x|, eps)`` over the last dim, the values of ``F.normalize``, but with
    no gradient through vectors no longer than ``eps``.

    ``x / |x|`` has no derivative at 0 and ``F.normalize``'s is ``1 / eps`` there:
    a zero vector (a zero clip that pads a video to the pyramid's stride projects
    to 0 at initialisation) would send a ~1e11 gradient into the layers before it.
    """
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return torch.where(norm > eps, x / norm.clamp(min=eps), (x / eps).detach())
