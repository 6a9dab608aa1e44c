"""SG-DETR for video moment retrieval and highlight detection.

Importing the package registers every component in the ``sgdetr`` scope
(and the file backend ``sgdetr_atomic_local`` under its own name) and changes
nothing else: MMEngine and torch behave as before for every other program.
What the project's runs do differently is chosen by the config
(``configs/_base_/default_runtime.py``: ``runner_type='SGDETRRunner'``, the
atomic backend of the checkpoint hook).
"""
from . import engine  # noqa: F401  (runner, hooks, optimiser wrapper, file backend)
from . import datasets, evaluation, models  # noqa: F401
from .version import __version__  # noqa: F401
