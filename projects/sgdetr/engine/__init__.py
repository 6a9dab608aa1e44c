from .mixed_precision import BF16OptimWrapper, bf16_is_fast
from .atomic_local_backend import (ATOMIC_BACKEND, AtomicLocalBackend, atomic_output,
                                   atomic_write_bytes, atomic_write_text)
from ..errors import CheckpointError, CheckpointMismatchError, ConfigError
from .checkpoint import load_checkpoint_file, load_model_weights, read_checkpoint
from .config_check import check_config
from .random_state import RandomStateHook
from .safe_checkpoint_globals import WeightsOnlyCheckpointHook
from .runner import SGDETRRunner

__all__ = ['BF16OptimWrapper', 'bf16_is_fast', 'ATOMIC_BACKEND', 'AtomicLocalBackend',
           'atomic_output', 'atomic_write_bytes', 'atomic_write_text',
           'CheckpointError', 'CheckpointMismatchError', 'load_checkpoint_file',
           'load_model_weights', 'read_checkpoint', 'ConfigError', 'check_config',
           'RandomStateHook', 'WeightsOnlyCheckpointHook', 'SGDETRRunner']
