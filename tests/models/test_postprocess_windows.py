"""From DETR spans to the windows a benchmark reads (the released rules)."""
import math

import torch

from sgdetr.models.postprocess import detr_windows, finalize_windows, round_scores


def test_round_scores():
    torch.testing.assert_close(round_scores(torch.tensor([0.123456, 0.99996, 0.00004])),
                               torch.tensor([0.1235, 1.0, 0.0]))
    torch.testing.assert_close(round_scores(torch.tensor([0.126]), digits=2),
                               torch.tensor([0.13]))


def test_finalize_clips_rounds_and_widens():
    windows = torch.tensor([[-3.0, 11.2], [86.9, 97.0], [10.0, 10.6], [0.1, 0.3], [88.7, 95.0]])
    out = finalize_windows(windows, duration=90.0, round_to=2.0, min_length=2.0)
    # [0, 11.2] -> [0, 12]; [86.9, 90] -> [86, 90]; [10, 10.6] -> [10, 10] -> widened to
    # [9, 11]; [0.1, 0.3] -> [0, 0] -> widened inside the video to [0, 2];
    # [88.7, 90] -> [88, 90]
    torch.testing.assert_close(out, torch.tensor(
        [[0.0, 12.0], [86.0, 90.0], [9.0, 11.0], [0.0, 2.0], [88.0, 90.0]]))
    # at the end of the video too: [89.6, 90] -> [90, 90] -> [88, 90]
    torch.testing.assert_close(
        finalize_windows(torch.tensor([[89.6, 90.0]]), 90.0, 2.0, 2.0), torch.tensor([[88.0, 90.0]]))
    # no rounding and no widening
    out = finalize_windows(windows, duration=90.0, round_to=0, min_length=0)
    torch.testing.assert_close(out, windows.clamp(0, 90))
    # widening without rounding keeps the centre
    out = finalize_windows(torch.tensor([[20.0, 20.5]]), duration=90.0, round_to=0,
                           min_length=3.0)
    torch.testing.assert_close(out, torch.tensor([[18.75, 21.75]]))


def test_detr_windows_order_scores_and_rules():
    # timeline 100 s, video 90 s
    spans = torch.tensor([[0.5, 0.2],        # q0 [40, 60]
                          [0.305, 0.013],    # q1 [29.85, 31.15] -> [30, 32]
                          [0.96, 0.2],       # q2 [86, 106] -> [86, 100] -> [86, 90]
                          [0.1, 0.001],      # q3 [9.95, 10.05] -> [10, 10] -> [9, 11]
                          [0.002, 0.002]])   # q4 [0.1, 0.3] -> [0, 0] -> [0, 2]
    probs = torch.tensor([0.3, 0.90004, 0.6, 0.5, 0.45])
    ious = torch.tensor([0.9, 0.49996, 0.7, 0.123456, 0.8])
    windows, scores = detr_windows(spans, probs, ious, timeline=100.0, duration=90.0,
                                   round_to=2.0, min_length=2.0, max_windows=4)
    # ordered by probability, the lowest one (q0) left out
    torch.testing.assert_close(windows, torch.tensor(
        [[30.0, 32.0], [86.0, 90.0], [9.0, 11.0], [0.0, 2.0]]))
    expected = [math.sqrt(0.9 * 0.5), math.sqrt(0.6 * 0.7), math.sqrt(0.5 * 0.1235),
                math.sqrt(0.45 * 0.8)]
    torch.testing.assert_close(scores, torch.tensor(expected))
    # the order is the probability's, not the score's
    assert scores[2] < scores[3]


def test_detr_windows_ties_keep_query_order_and_all_fit():
    spans = torch.tensor([[0.2, 0.1], [0.5, 0.1], [0.8, 0.1]])
    probs = torch.tensor([0.5, 0.5, 0.7])
    windows, scores = detr_windows(spans, probs, probs, timeline=10.0, duration=10.0,
                                   round_to=0, min_length=0)
    torch.testing.assert_close(windows, torch.tensor([[7.5, 8.5], [1.5, 2.5], [4.5, 5.5]]))
    torch.testing.assert_close(scores, torch.tensor([0.7, 0.5, 0.5]))
    empty_windows, empty_scores = detr_windows(spans[:0], probs[:0], probs[:0], 10.0, 10.0,
                                               2.0, 2.0)
    assert empty_windows.shape == (0, 2) and empty_scores.shape == (0, )
