"""Span geometry (:mod:`sgdetr.structures.spans`): one implementation for
torch tensors and numpy arrays."""
import numpy as np
import pytest
import torch

from sgdetr.structures import (span_cxw_to_xx, span_giou, span_iou, span_iou_exact,
                               span_overlap, span_xx_to_cxw)

SPANS_A = np.array([[0.0, 4.0], [2.0, 6.0], [10.0, 10.0]])
SPANS_B = np.array([[1.0, 3.0], [10.0, 10.0]])


def test_numpy_and_torch_agree():
    expected = span_iou(torch.from_numpy(SPANS_A), torch.from_numpy(SPANS_B)).numpy()
    np.testing.assert_array_equal(span_iou(SPANS_A, SPANS_B), expected)
    assert expected[0, 0] == pytest.approx(0.5) and expected[1, 0] == pytest.approx(0.2)
    cxw = np.array([[5.0, 2.0], [0.25, 0.5]])
    np.testing.assert_array_equal(span_cxw_to_xx(cxw), [[4.0, 6.0], [0.0, 0.5]])
    np.testing.assert_array_equal(span_cxw_to_xx(torch.from_numpy(cxw)).numpy(),
                                  span_cxw_to_xx(cxw))
    np.testing.assert_array_equal(span_xx_to_cxw(span_cxw_to_xx(cxw)), cxw)


def test_exact_iou_divides_as_the_official_evaluation():
    iou = span_iou_exact(SPANS_A, SPANS_B)
    assert np.isnan(iou[2, 1])  # both empty and coincident: 0 / 0
    assert iou[2, 0] == 0.0 and span_iou(SPANS_A, SPANS_B)[2, 1] == 0.0


def test_aligned_and_batched_shapes():
    inter, union = span_overlap(SPANS_A[:2], SPANS_B, aligned=True)
    np.testing.assert_array_equal(inter, [2.0, 0.0])
    np.testing.assert_array_equal(union, [4.0, 4.0])
    batched = torch.rand(3, 5, 2).sort(-1).values
    assert span_iou(batched, batched[:, :4]).shape == (3, 5, 4)
    assert span_giou(batched, batched, aligned=True).shape == (3, 5)
