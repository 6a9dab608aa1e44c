"""Checkpoints that ``torch.load(weights_only=True)`` (the default since
torch 2.6) reads: the allow-list the package's loader uses, and the hook that
makes the message hub's buffers fit it.

An MMEngine checkpoint holds, besides tensors, the message hub's
``HistoryBuffer`` objects (numpy arrays inside) and numpy scalars/arrays in the
metadata. Instead of turning the weights-only unpickler off, the exact classes
found in such checkpoints are allow-listed for the loads of this package
(:func:`sgdetr.engine.load_checkpoint_file`); anything else still fails
loudly. Nothing is added to torch's global allow-list.

One object needs more than an allow-list: a ``HistoryBuffer`` pickles its
default statistics (``HistoryBuffer.min`` ...) as ``getattr(HistoryBuffer,
'min')``, and allowing the builtin ``getattr`` would open the unpickler to
arbitrary attribute access. :class:`WeightsOnlyCheckpointHook` saves the
buffers without those defaults and gives them back when a checkpoint is
loaded; custom statistics methods are kept (and need ``weights_only=False``).
MMEngine's ``HistoryBuffer`` class itself is left as it is.
"""
import collections

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

from ..registry import HOOKS


def _numpy_globals():
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core
    allowed = [core.multiarray._reconstruct, core.multiarray.scalar,
               np.ndarray, np.dtype]
    # numpy>=1.25 pickles dtypes as instances of these classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in (
            'Float16DType', 'Float32DType', 'Float64DType', 'Int8DType',
            'Int16DType', 'Int32DType', 'Int64DType', 'UInt8DType',
            'UInt16DType', 'UInt32DType', 'UInt64DType', 'BoolDType')
            if hasattr(dtypes, name)]
    return allowed


# MultiStepLR keeps its milestones in a Counter.
SAFE_CHECKPOINT_GLOBALS = [HistoryBuffer, collections.Counter] + _numpy_globals()

_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _buffers(checkpoint) -> list:
    hub = checkpoint.get('message_hub') if isinstance(checkpoint, dict) else None
    scalars = hub.get('log_scalars') if isinstance(hub, dict) else None
    return [b for b in (scalars or {}).values() if isinstance(b, HistoryBuffer)]


def strip_default_statistics(checkpoint) -> None:
    """Drop the class's own statistics methods from the buffers of a
    checkpoint about to be saved (``MessageHub.state_dict`` hands out deep
    copies, so the run's buffers keep theirs)."""
    for buffer in _buffers(checkpoint):
        buffer._statistics_methods = {
            name: method for name, method in buffer._statistics_methods.items()
            if not (name in _DEFAULT_STATISTICS and method is getattr(HistoryBuffer, name))}


def restore_default_statistics(checkpoint) -> None:
    """Give the buffers of a loaded checkpoint their default statistics back."""
    for buffer in _buffers(checkpoint):
        methods = buffer.__dict__.setdefault('_statistics_methods', {})
        for name in _DEFAULT_STATISTICS:
            methods.setdefault(name, getattr(HistoryBuffer, name))


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Saves checkpoints that a weights-only load with
    ``SAFE_CHECKPOINT_GLOBALS`` reads, and restores what that left out when
    one is loaded. :class:`~sgdetr.engine.SGDETRRunner` adds it."""
    priority = 'VERY_LOW'  # after every hook that adds to the checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        strip_default_statistics(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        restore_default_statistics(checkpoint)
