"""SpanDeltaCoder: (centre, log-width) deltas of spans."""
import math

import torch

from sgdetr.models.task_modules.span_coder import SpanDeltaCoder
from sgdetr.registry import TASK_UTILS


def test_registered():
    coder = TASK_UTILS.build(dict(type='SpanDeltaCoder', target_stds=(1., 1.)))
    assert isinstance(coder, SpanDeltaCoder)


def test_encode_hand_computed():
    # anchor [2, 6]: centre 4, width 4; target [3, 11]: centre 7, width 8.
    # dc = 3 / 4 = 0.75, dw = log 2; normalised by stds (0.1, 0.2).
    coder = SpanDeltaCoder(target_stds=(0.1, 0.2))
    deltas = coder.encode(torch.tensor([[2., 6.]]), torch.tensor([[3., 11.]]))
    torch.testing.assert_close(deltas, torch.tensor([[7.5, math.log(2) / 0.2]]))
    coder = SpanDeltaCoder(target_means=(0.5, 0.), target_stds=(1., 1.))
    deltas = coder.encode(torch.tensor([[2., 6.]]), torch.tensor([[3., 11.]]))
    torch.testing.assert_close(deltas, torch.tensor([[0.25, math.log(2)]]))


def test_decode_hand_computed():
    coder = SpanDeltaCoder(target_stds=(1., 1.))
    # centre 4 + 0.5 * 4 = 6, width 4 * e^0 = 4 -> [4, 8]
    spans = coder.decode(torch.tensor([[2., 6.]]), torch.tensor([[0.5, 0.]]))
    torch.testing.assert_close(spans, torch.tensor([[4., 8.]]))


def test_round_trip_keeps_shapes():
    g = torch.Generator().manual_seed(0)
    start = torch.rand(3, 5, generator=g) * 10
    anchors = torch.stack((start, start + 0.5 + torch.rand(3, 5, generator=g) * 5), -1)
    start = torch.rand(3, 5, generator=g) * 10
    targets = torch.stack((start, start + 0.5 + torch.rand(3, 5, generator=g) * 5), -1)
    coder = SpanDeltaCoder()
    deltas = coder.encode(anchors, targets)
    assert deltas.shape == (3, 5, 2)
    torch.testing.assert_close(coder.decode(anchors, deltas), targets,
                               rtol=1e-5, atol=1e-5)


def test_decode_broadcasts_anchors_over_the_batch():
    coder = SpanDeltaCoder()
    anchors = torch.tensor([[0., 2.], [1., 5.]])            # (N, 2)
    deltas = torch.randn(4, 2, 2, generator=torch.Generator().manual_seed(1))
    batched = coder.decode(anchors, deltas)                  # (B, N, 2)
    assert batched.shape == (4, 2, 2)
    torch.testing.assert_close(batched[2], coder.decode(anchors, deltas[2]))


def test_width_delta_is_clamped():
    coder = SpanDeltaCoder(target_stds=(1., 1.), width_ratio_clip=0.1)
    anchors = torch.tensor([[4., 6.], [4., 6.]])             # centre 5, width 2
    spans = coder.decode(anchors, torch.tensor([[0., 50.], [0., -50.]]))
    widths = spans[:, 1] - spans[:, 0]
    torch.testing.assert_close(widths, torch.tensor([20., 0.2]))
    torch.testing.assert_close(spans.mean(-1), torch.tensor([5., 5.]))
    assert torch.isfinite(spans).all()
