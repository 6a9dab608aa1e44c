"""Array helpers shared by the metric functions: padding ragged per-query
lists into one array, left-compacting selected entries, and summing rows with
exactly numpy's floating-point summation order."""
from typing import Sequence, Tuple

import numpy as np

# numpy sums a contiguous float64 run with 8 interleaved accumulators in
# blocks of up to this many elements, and splits longer runs in two.
_NUMPY_PAIRWISE_BLOCK = 128
_NUMPY_UNROLL = 8


def pad_ragged(rows: Sequence[np.ndarray], pad_value: float,
               min_width: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Stack variable-length rows into one padded array.

    Args:
        rows: R arrays of shape (n_r, *tail), all with the same tail shape.
        pad_value: fills the positions past each row's end.
        min_width: the padded length is at least this (keeps shapes valid
            when every row is empty).

    Returns:
        padded: (R, W, *tail) float64, W = max(max n_r, min_width).
        valid: (R, W) bool, True where padded holds a real element.
    """
    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64,
                          count=len(rows))
    width = max(int(lengths.max(initial=0)), min_width)
    tail = np.shape(rows[0])[1:] if len(rows) else ()
    valid = np.arange(width)[None, :] < lengths[:, None]
    padded = np.full((len(rows), width) + tuple(tail), pad_value,
                     dtype=np.float64)
    if lengths.sum():
        # one concatenation + one boolean scatter instead of a copy per row
        padded[valid] = np.concatenate(
            [np.asarray(row, dtype=np.float64).reshape((-1,) + tuple(tail))
             for row in rows])
    return padded, valid


def compact_left(values: np.ndarray, selected: np.ndarray
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Move each row's selected entries to its front, keeping their order.

    Args:
        values: (R, W, *tail).
        selected: (R, W) bool.

    Returns:
        compacted: (R, W, *tail) with row r's selected entries at
            [0, counts[r]) and zeros after.
        counts: (R,) int64 number of selected entries per row.
    """
    counts = selected.sum(axis=1)
    compacted = np.zeros_like(values)
    rows, _ = np.nonzero(selected)
    # position of each selected entry among its row's selected entries
    positions = np.cumsum(selected, axis=1)[selected] - 1
    compacted[rows, positions] = values[selected]
    return compacted, counts


def width_buckets(counts: np.ndarray, min_width: int = 1):
    """Group rows by the power of two that holds their count, so that rows
    with few entries are not padded to the longest row.

    Args:
        counts: (R,) entries per row.

    Yields:
        (rows (R,) bool mask, width) for every non-empty group.
    """
    widths = np.maximum(counts, min_width)
    widths = 1 << np.ceil(np.log2(widths)).astype(np.int64)
    for width in np.unique(widths):
        yield widths == width, int(width)


def numpy_sum_rows(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum the first ``counts[r]`` entries of every row bit-exactly as
    ``np.sum(values[r, :counts[r]])`` does.

    numpy does not add left to right: runs of 8 or more float64 use eight
    interleaved partial sums combined as a tree, then add the leftover
    elements one by one.  Reference evaluations average short lists with
    ``np.sum`` / ``np.mean``; reproducing the same order of operations makes
    their results equal to the last bit instead of to ~1e-16.

    Args:
        values: (R, W) float64, row r meaningful on [0, counts[r]).
        counts: (R,) int.

    Returns:
        (R,) float64 sums.
    """
    num_rows, width = values.shape
    counts = np.asarray(counts, dtype=np.int64)
    # zero-padded copy wide enough for whole blocks of 8
    padded_width = -(-max(width, _NUMPY_UNROLL) // _NUMPY_UNROLL) * _NUMPY_UNROLL
    data = np.zeros((num_rows, padded_width))
    data[:, :width] = np.where(np.arange(width) < counts[:, None], values, 0.0)
    # rows of fewer than 8 elements are summed sequentially from 0
    blocked_end = np.where(counts >= _NUMPY_UNROLL,
                           counts - counts % _NUMPY_UNROLL, 0)
    partial = np.where((counts >= _NUMPY_UNROLL)[:, None],
                       data[:, :_NUMPY_UNROLL], 0.0)  # (R, 8)
    for start in range(_NUMPY_UNROLL, padded_width, _NUMPY_UNROLL):
        in_block = (start < blocked_end)[:, None]
        partial = partial + np.where(
            in_block, data[:, start:start + _NUMPY_UNROLL], 0.0)
    total = (((partial[:, 0] + partial[:, 1]) + (partial[:, 2] + partial[:, 3]))
             + ((partial[:, 4] + partial[:, 5]) + (partial[:, 6] + partial[:, 7])))
    row_index = np.arange(num_rows)
    for offset in range(_NUMPY_UNROLL):
        column = blocked_end + offset
        in_tail = column < counts
        total = total + np.where(
            in_tail, data[row_index, np.minimum(column, padded_width - 1)], 0.0)
    # longer runs are split recursively by numpy; they are rare here (more
    # than 128 terms in one average), so let numpy sum them itself
    for row in np.flatnonzero(counts > _NUMPY_PAIRWISE_BLOCK):
        total[row] = np.sum(values[row, :counts[row]])
    return total


def numpy_mean_rows(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``np.mean(values[r, :counts[r]])`` for every row, bit-exactly; NaN for
    empty rows. Shapes as :func:`numpy_sum_rows`."""
    with np.errstate(invalid='ignore', divide='ignore'):
        return numpy_sum_rows(values, counts) / counts


def as_percent(value: float) -> float:
    """A fraction as a percentage with 2 decimals, formatted the way the
    reference evaluation does (round-half-even on the binary value)."""
    return float(f'{100 * value:.2f}')
