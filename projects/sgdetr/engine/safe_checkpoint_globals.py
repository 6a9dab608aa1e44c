"""Let ``torch.load(weights_only=True)`` (the default since torch 2.6) read the
checkpoints MMEngine writes, so ``--resume`` and ``load_from`` work.

An MMEngine checkpoint holds, besides tensors, the message hub's
``HistoryBuffer`` objects (numpy arrays inside) and numpy scalars/arrays in the
metadata. Instead of turning the weights-only unpickler off, the exact classes
found in such checkpoints are allow-listed; anything else still fails loudly.

One object needs more than an allow-list: a ``HistoryBuffer`` pickles its
default statistics (``HistoryBuffer.min`` ...) as ``getattr(HistoryBuffer,
'min')``, and allowing the builtin ``getattr`` would open the unpickler to
arbitrary attribute access. So buffers are pickled without those defaults and
get them back when unpickled; custom statistics methods are kept (and need
``weights_only=False``, as before).
"""
import collections

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


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


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self):
    state = self.__dict__.copy()
    state['_statistics_methods'] = {
        name: method for name, method in self._statistics_methods.items()
        if not (name in _DEFAULT_STATISTICS
                and method is getattr(HistoryBuffer, name))}
    return state


def _history_buffer_setstate(self, state):
    self.__dict__.update(state)
    methods = self.__dict__.setdefault('_statistics_methods', {})
    for name in _DEFAULT_STATISTICS:
        methods.setdefault(name, getattr(HistoryBuffer, name))


HistoryBuffer.__getstate__ = _history_buffer_getstate
HistoryBuffer.__setstate__ = _history_buffer_setstate

# MultiStepLR keeps its milestones in a Counter.
SAFE_CHECKPOINT_GLOBALS = [HistoryBuffer, collections.Counter] + _numpy_globals()

if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
    torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)
