"""Choosing the windows a benchmark reads."""
import torch

from sgdetr.models.postprocess import select_windows


def test_keeps_the_ten_best_in_score_order():
    spans = torch.stack((torch.arange(12.), torch.arange(12.) + 1), -1)
    scores = torch.tensor([.1, .9, .3, .8, .2, .7, .05, .6, .4, .5, .01, .95])
    windows, kept = select_windows(spans, scores)
    assert len(windows) == 10
    assert torch.equal(kept, scores.sort(descending=True).values[:10])
    assert torch.equal(windows[0], torch.tensor([11., 12.]))
    assert torch.equal(windows[1], torch.tensor([1., 2.]))


def test_maps_to_seconds_clips_and_drops_empty_windows():
    # timeline 150 s, video 140 s: [.9, 1] -> [135, 150] -> [135, 140];
    # [.95, 1] -> [142.5, 150] -> empty, dropped; [.2, .3] -> [30, 45].
    spans = torch.tensor([[0.9, 1.0], [0.95, 1.0], [0.2, 0.3]])
    scores = torch.tensor([0.5, 0.9, 0.4])
    windows, kept = select_windows(spans, scores, max_windows=2,
                                   timeline=150., duration=140.)
    torch.testing.assert_close(windows, torch.tensor([[135., 140.], [30., 45.]]))
    torch.testing.assert_close(kept, torch.tensor([0.5, 0.4]))


def test_ties_keep_input_order():
    spans = torch.tensor([[0., 1.], [1., 2.], [2., 3.]])
    windows, _ = select_windows(spans, torch.tensor([0.5, 0.5, 0.7]))
    assert torch.equal(windows, spans[[2, 0, 1]])
