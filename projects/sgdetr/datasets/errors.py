"""The one exception raised for bad data."""


class DataError(ValueError):
    """Bad annotation or feature data.

    The message always names the offending file (``path:line`` for JSON
    lines) and says what is wrong, so that a broken dataset fails at start-up
    or on the first bad sample with an actionable message instead of a bare
    ``KeyError`` or shape error deep inside the model.
    """
