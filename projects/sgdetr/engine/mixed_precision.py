"""bfloat16 mixed-precision training on CPUs and GPUs (``tools/train.py --amp``)."""
from contextlib import contextmanager

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
