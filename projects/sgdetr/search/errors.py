"""The errors of a library index; each names the index or the file concerned."""
from sgdetr.errors import DataError


class IndexMismatchError(DataError):
    """The index was built with another config, checkpoint or layout than the
    one it is opened with: its embeddings would not be the model's."""


class StaleIndexError(DataError):
    """A video file changed or disappeared since it was indexed."""
