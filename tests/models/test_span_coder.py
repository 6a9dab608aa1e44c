"""SpanDeltaCoder: decoding (centre, log-width) deltas of spans with the legacy +1 widths."""
import torch

from sgdetr.models.task_modules.span_coder import SpanDeltaCoder
from sgdetr.registry import TASK_UTILS


def random_spans(shape, generator, scale=20.0):
    start = torch.rand(shape, generator=generator) * scale
    return torch.stack((start, start + 0.5 + torch.rand(shape, generator=generator) * scale), -1)


def test_registered():
    coder = TASK_UTILS.build(dict(type='SpanDeltaCoder', target_stds=(1., 1.)))
    assert isinstance(coder, SpanDeltaCoder) and coder.encode_size == 2


def test_decode_hand_computed():
    coder = SpanDeltaCoder(target_stds=(1., 1.))
    # anchor [2, 6]: centre 4 + 0.5 * 5 = 6.5; width 5 e^0 = 5 -> 6.5 -+ (5 - 1) / 2
    spans = coder.decode(torch.tensor([[2., 6.]]), torch.tensor([[0.5, 0.]]))
    torch.testing.assert_close(spans, torch.tensor([[4.5, 8.5]]))
    # zero deltas give the anchor back
    anchors = torch.tensor([[-1.5, 2.5], [3., 3.]])
    torch.testing.assert_close(coder.decode(anchors, torch.zeros(2, 2)), anchors)


def test_decode_is_the_released_formula():
    g = torch.Generator().manual_seed(0)
    anchors = random_spans((50, ), g)
    deltas = torch.randn(50, 2, generator=g)
    coder = SpanDeltaCoder(target_means=(0.1, -0.2), target_stds=(0.1, 0.2))
    dc = deltas[:, 0] * 0.1 + 0.1
    dw = deltas[:, 1] * 0.2 - 0.2
    width = (anchors[:, 1] - anchors[:, 0] + 1) * dw.exp()
    centre = (anchors[:, 0] + anchors[:, 1]) / 2 + dc * (anchors[:, 1] - anchors[:, 0] + 1)
    expected = torch.stack([centre - (width - 1) / 2, centre + (width - 1) / 2], -1)
    torch.testing.assert_close(coder.decode(anchors, deltas), expected)


def test_decode_broadcasts_anchors_over_the_batch():
    coder = SpanDeltaCoder()
    anchors = torch.tensor([[0., 2.], [1., 5.]])            # (N, 2)
    deltas = torch.randn(4, 2, 2, generator=torch.Generator().manual_seed(1))
    batched = coder.decode(anchors, deltas)                  # (B, N, 2)
    assert batched.shape == (4, 2, 2)
    torch.testing.assert_close(batched[2], coder.decode(anchors, deltas[2]))


def test_width_delta_is_clamped_from_above_only():
    coder = SpanDeltaCoder(target_stds=(1., 1.), width_ratio_clip=0.1)
    anchors = torch.tensor([[4., 6.], [4., 6.]])             # centre 5, width 3
    spans = coder.decode(anchors, torch.tensor([[0., 50.], [0., -50.]]))
    # dw <= log(10): width 30, span length 29; no lower bound: width ~0, length ~-1
    torch.testing.assert_close(spans[:, 1] - spans[:, 0], torch.tensor([29., -1.]))
    torch.testing.assert_close(spans.mean(-1), torch.tensor([5., 5.]))
    assert torch.isfinite(spans).all()
