"""Helpers of the metric functions: ragged padding, compaction and numpy's
own summation order."""
import numpy as np

from sgdetr.evaluation.functional._array_utils import (as_percent, compact_left,
                                                       numpy_mean_rows,
                                                       numpy_sum_rows, pad_ragged)


def test_pad_ragged_keeps_rows_and_marks_padding():
    padded, valid = pad_ragged([np.array([[1., 2.]]), np.zeros((0, 2)),
                                np.array([[3., 4.], [5., 6.]])], pad_value=-1.0)
    assert padded.shape == (3, 2, 2)
    assert valid.tolist() == [[True, False], [False, False], [True, True]]
    assert padded[0].tolist() == [[1, 2], [-1, -1]]
    assert padded[2].tolist() == [[3, 4], [5, 6]]
    padded, valid = pad_ragged([[], []], pad_value=0.0, min_width=3)
    assert padded.shape == (2, 3) and not valid.any()


def test_compact_left_moves_selected_values_to_the_front_in_order():
    values = np.array([[1., 2., 3., 4.], [5., 6., 7., 8.]])
    selected = np.array([[False, True, False, True], [True, True, True, False]])
    compacted, counts = compact_left(values, selected)
    assert counts.tolist() == [2, 3]
    assert compacted.tolist() == [[2, 4, 0, 0], [5, 6, 7, 0]]


def test_row_sums_equal_numpy_sum_to_the_last_bit():
    rng = np.random.default_rng(0)
    values = rng.random((400, 200)) * rng.choice([1e-3, 1.0, 1e3], (400, 200))
    counts = rng.integers(0, 201, 400)
    counts[:20] = np.arange(20)  # every short length, including 0
    sums = numpy_sum_rows(values, counts)
    expected = np.array([np.sum(row[:n]) for row, n in zip(values, counts)])
    assert np.array_equal(sums, expected)
    # a plain left-to-right sum differs for some rows: the order matters
    sequential = np.array([sum(row[:n].tolist()) for row, n in zip(values, counts)])
    assert not np.array_equal(sequential, expected)
    means = numpy_mean_rows(values, counts)
    assert np.array_equal(means[1:], np.array([np.mean(row[:n]) for row, n in
                                               zip(values[1:], counts[1:])]))
    assert np.isnan(means[0])


def test_as_percent_formats_two_decimals():
    assert as_percent(0.123456) == 12.35
    assert as_percent(1 / 3) == 33.33
    assert as_percent(1.0) == 100.0
