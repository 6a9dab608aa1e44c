"""The one exception raised for bad data (defined in :mod:`sgdetr.errors`)."""
from sgdetr.errors import DataError

__all__ = ['DataError']
