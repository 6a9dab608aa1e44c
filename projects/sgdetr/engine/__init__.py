from . import safe_checkpoint_globals  # noqa: F401
from .atomic_local_backend import (AtomicLocalBackend, atomic_write_bytes,
                                   atomic_write_text)

__all__ = ['AtomicLocalBackend', 'atomic_write_bytes', 'atomic_write_text']
