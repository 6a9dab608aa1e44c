"""Cost of the ATSS loss at training size (B = 32, L = 75); run with -s."""
import time

import torch

from sgdetr.models.heads.atss import SpanATSSHead
from sgdetr.models.heads.atss.atss_targets import assign_anchors
from sgdetr.models.heads.atss.span_anchors import clip_anchors


def milliseconds(fn, repeats=3):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def test_atss_loss_cost_at_batch_32_and_75_clips():
    torch.manual_seed(0)
    B, L = 32, 75
    head = SpanATSSHead()
    memory = torch.randn(B, L, 256)
    num_clips = torch.randint(40, L + 1, (B,))
    mask = torch.arange(L)[None] < num_clips[:, None]
    gts = []
    for _ in range(B):
        starts = torch.rand(3) * 0.7
        gts.append(torch.stack((starts, starts + 0.02 + torch.rand(3) * 0.28), -1))
    anchors = clip_anchors(L, head.anchor_widths)
    gts_in_clips = [spans * n for spans, n in zip(gts, num_clips)]
    assign_ms = milliseconds(
        lambda: assign_anchors(head.assigner, anchors, mask, gts_in_clips))
    with torch.no_grad():
        forward_ms = milliseconds(lambda: head(memory, mask))
        loss_ms = milliseconds(lambda: head.loss(memory, mask, gts))
    print(f'\nATSS B={B} L={L} A={len(head.anchor_widths)} '
          f'threads={torch.get_num_threads()}: assignment {assign_ms:.1f} ms, '
          f'head forward {forward_ms:.1f} ms, loss (forward + assignment + '
          f'losses) {loss_ms:.1f} ms')
    assert assign_ms < 2000  # a sanity bound only; the numbers are the output
