"""SG-DETR for video moment retrieval and highlight detection.

Importing the package registers every component in the ``sgdetr`` scope.
"""
from . import engine  # noqa: F401  (torch>=2.6 resume support, hooks)
from . import datasets, evaluation, models  # noqa: F401
from .version import __version__  # noqa: F401
