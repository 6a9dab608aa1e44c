"""The errors a user can act on, raised by every layer of the package.

They live here, below everything else, so that raising one never makes a
module import a layer above it (``engine`` raising ``DataError`` must not
import ``datasets``). The tools report them as one message, without a
traceback.
"""


class DataError(ValueError):
    """Bad annotation or feature data.

    The message always names the offending file (``path:line`` for JSON
    lines) and says what is wrong, so that a broken dataset fails at start-up
    or on the first bad sample with an actionable message instead of a bare
    ``KeyError`` or shape error deep inside the model.
    """


class ConfigError(ValueError):
    """A config key that would be ignored or fail later."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, is refused, or does not fit the model."""


class CheckpointMismatchError(CheckpointError):
    """The tensors of a checkpoint do not match those of the model exactly."""
