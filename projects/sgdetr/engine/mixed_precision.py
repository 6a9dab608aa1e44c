"""bfloat16 mixed-precision training on CPUs and GPUs (``tools/train.py --amp``)."""
from contextlib import contextmanager
from typing import Optional

import torch
from mmengine.optim import OptimWrapper

from sgdetr.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward passes run under ``torch.autocast`` with
    bfloat16 on the model's device.

    bfloat16 has float32's exponent range, so no loss scaling is needed (unlike
    float16, MMEngine's ``AmpOptimWrapper``), and it works on the CPU, where
    matrix products and convolutions with AVX-512 BF16 (or AMX) run at several
    times the float32 rate. Parameters, gradients and optimiser states stay
    float32; losses and normalisations are computed in float32 by autocast.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device, dtype=torch.bfloat16):
            yield


#: /proc/cpuinfo flags of x86 CPUs with native bfloat16 matrix products
_CPU_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')


def cpuinfo_field(key: str, path: str = '/proc/cpuinfo') -> Optional[str]:
    """The value of ``key`` for the first CPU in ``path`` (Linux's
    ``/proc/cpuinfo``); None where the file or the key is missing."""
    try:
        with open(path) as f:
            for line in f:
                name, sep, value = line.partition(':')
                if sep and name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags(path: str = '/proc/cpuinfo') -> set:
    """The feature flags of the first CPU in ``path`` (empty where unreadable)."""
    return set((cpuinfo_field('flags', path) or '').split())


def bf16_is_fast(device: str = 'cpu') -> bool:
    """Whether bfloat16 autocast speeds training up on ``device``.

    On a CPU without AVX-512 BF16 or AMX, PyTorch emulates bfloat16 matrix
    products, several times slower than float32 (measured: 5x on an AVX2 EPYC).
    On CUDA, GPUs with native bfloat16 (Ampere and later).
    """
    if device.startswith('cuda'):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(cpu_flags() & set(_CPU_BF16_FLAGS))
