import pytest
import torch

from sgdetr.models.heads import SpanDINOHead
from sgdetr.models.layers import QueryGroup
from sgdetr.registry import MODELS

GT = [torch.tensor([[0.1, 0.3], [0.5, 0.9]]), torch.tensor([[0.2, 0.6]])]
LOSS_NAMES = {'loss_cls', 'loss_span_l1', 'loss_giou', 'loss_iou'}


def build_head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='SpanDINOHead', hidden_dim=16, num_queries=4, num_heads=2,
               ffn_dim=32)
    return MODELS.build(dict(cfg, **kwargs))


def inputs(clips=(6, 4)):
    torch.manual_seed(1)
    batch, length = len(clips), max(clips)
    mask = torch.arange(length)[None] < torch.tensor(clips)[:, None]
    return torch.randn(batch, length, 16), mask, torch.randn(batch, length, 16)


def test_loss_keys():
    head = build_head(denoising=dict(type='SpanDenoisingGenerator', num_groups=2))
    assert isinstance(head, SpanDINOHead)
    atss = QueryGroup('atss', torch.rand(2, 3, 2) * 0.5 + 0.2,
                      torch.tensor([[0, 1, -1], [0, -1, -1]]),
                      torch.tensor([[True, True, True], [True, True, False]]))
    losses = head.loss(*inputs(), GT, extra_groups=[atss])
    expected = {f'enc.{k}' for k in LOSS_NAMES - {'loss_iou'}}
    for prefix in ('', 'dn.', 'atss.'):
        expected |= {f'{prefix}d{layer}.{k}' for layer in range(3) for k in LOSS_NAMES}
    assert set(losses) == expected
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())


def test_groups_of_one_name_are_averaged_and_weighted():
    head = build_head(denoising=None, dropout=0.0)
    group = QueryGroup('aux', torch.rand(2, 3, 2) * 0.5 + 0.2,
                       torch.tensor([[0, 1, -1], [0, -1, -1]]),
                       torch.tensor([[True, True, True], [True, True, False]]),
                       content=torch.randn(2, 3, 16))
    twice = QueryGroup('aux', group.ref_spans, group.gt_indices, group.valid,
                       content=group.content, loss_weight=2.0)
    data = inputs()
    one = head.loss(*data, GT, extra_groups=[group])
    pair = head.loss(*data, GT, extra_groups=[group, group])
    weighted = head.loss(*data, GT, extra_groups=[twice])
    for key in (k for k in one if k.startswith('aux.')):
        assert torch.allclose(one[key], pair[key], atol=1e-6)
        assert torch.allclose(2 * one[key], weighted[key], atol=1e-6)
    # Background-only and padding queries have nothing to regress.
    background = QueryGroup('bg', group.ref_spans, torch.full((2, 3), -1),
                            group.valid, content=group.content)
    losses = head.loss(*data, GT, extra_groups=[background])
    assert losses['bg.d1.loss_span_l1'] == 0 and losses['bg.d1.loss_giou'] == 0
    assert losses['bg.d1.loss_cls'] > 0
    # Without denoising the head has no learned group content to fall back on.
    with pytest.raises(ValueError, match='brings no content'):
        head.loss(*data, GT, extra_groups=[QueryGroup('x', group.ref_spans,
                                                      group.gt_indices, group.valid)])


def test_one_step_trains_every_parameter():
    head = build_head()
    head.train()
    optimizer = torch.optim.SGD(head.parameters(), lr=0.01)
    data = inputs()
    for _ in range(2):  # zero-initialised span deltas pass gradient from step 2
        optimizer.zero_grad()
        sum(head.loss(*data, GT).values()).backward()
        optimizer.step()
    missing = [n for n, p in head.named_parameters()
               if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


def test_predict_shapes_scores_and_order():
    head = build_head(score_alpha=0.3).eval()
    spans, scores = head.predict(*inputs())
    assert spans.shape == (2, 4, 2) and scores.shape == (2, 4)
    assert (spans >= 0).all() and (spans <= 1).all()
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    _, outputs = head(*inputs())
    p = outputs[0]['cls_logits'][-1].sigmoid()
    iou = outputs[0]['iou_logits'][-1].sigmoid()
    expected = (p ** 0.3 * iou ** 0.7).sort(dim=1, descending=True).values
    assert torch.allclose(scores, expected, atol=1e-6)


def test_without_iou_head():
    head = build_head(with_iou_head=False)
    assert not any('iou_branches' in n for n, _ in head.named_parameters())
    losses = head.loss(*inputs(), GT)
    assert not any(k.endswith('loss_iou') for k in losses)
    head.eval()
    _, scores = head.predict(*inputs())
    _, outputs = head(*inputs())
    assert outputs[0]['iou_logits'] is None
    expected = outputs[0]['cls_logits'][-1].sigmoid().sort(dim=1, descending=True).values
    assert torch.allclose(scores, expected)


def test_padded_clips_never_affect_real_clips():
    head = build_head().eval()
    memory, mask, pos = inputs(clips=(5, 5))
    spans, scores = head.predict(memory, mask, pos)
    padded = torch.cat((memory, 50 * torch.randn(2, 3, 16)), 1)
    padded_pos = torch.cat((pos, torch.randn(2, 3, 16)), 1)
    padded_mask = torch.cat((mask, torch.zeros(2, 3, dtype=torch.bool)), 1)
    spans_p, scores_p = head.predict(padded, padded_mask, padded_pos)
    assert torch.allclose(spans, spans_p, atol=1e-5)
    assert torch.allclose(scores, scores_p, atol=1e-5)
    enc_p, _ = head(padded, padded_mask, padded_pos)
    assert (enc_p['clip_indices'] < 5).all()


def test_batch_padding_vs_unpadded_sample():
    head = build_head().eval()
    memory, mask, pos = inputs(clips=(6, 4))
    spans, scores = head.predict(memory, mask, pos)
    alone_spans, alone_scores = head.predict(memory[1:, :4], mask[1:, :4], pos[1:, :4])
    assert torch.allclose(spans[1:], alone_spans, atol=1e-5)
    assert torch.allclose(scores[1:], alone_scores, atol=1e-5)


def test_samples_without_gt():
    head = build_head(loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                                    loss_weight=5.0))
    for gt in ([torch.zeros(0, 2), GT[1]], [torch.zeros(0, 2), torch.zeros(0, 2)]):
        losses = head.loss(*inputs(), gt)
        assert all(torch.isfinite(v) for v in losses.values())
        assert losses['d2.loss_cls'] > 0
    # No GT at all: nothing to regress, no denoising group.
    assert losses['d2.loss_span_l1'] == 0
    assert not any(k.startswith('dn.') for k in losses)


def test_short_video_repeated_queries_rank_last():
    head = build_head(num_queries=6)
    head.eval()
    torch.manual_seed(2)
    memory = torch.randn(1, 4, 16)
    mask = torch.tensor([[True, True, True, False]])
    spans, scores = head.predict(memory, mask, torch.zeros(1, 4, 16))
    # 3 real clips: 3 real proposals, the 3 repeats score 0 at the end
    assert (scores[0, :3] > 0).all() and (scores[0, 3:] == 0).all()
    losses = head.loss(memory, mask, torch.zeros(1, 4, 16), [torch.tensor([[0.1, 0.5]])])
    assert all(torch.isfinite(v) for v in losses.values())
