from . import safe_checkpoint_globals  # noqa: F401
from .mixed_precision import BF16OptimWrapper, bf16_is_fast
from .atomic_local_backend import (AtomicLocalBackend, atomic_output, atomic_write_bytes,
                                   atomic_write_text)
from ..errors import CheckpointError, CheckpointMismatchError, ConfigError
from .checkpoint import load_checkpoint_file, load_model_weights
from .config_check import check_config
from .random_state import RandomStateHook
from .runner import SGDETRRunner

__all__ = ['BF16OptimWrapper', 'bf16_is_fast', 'AtomicLocalBackend', 'atomic_output',
           'atomic_write_bytes', 'atomic_write_text',
           'CheckpointError', 'CheckpointMismatchError', 'load_checkpoint_file',
           'load_model_weights', 'ConfigError', 'check_config', 'RandomStateHook',
           'SGDETRRunner']
