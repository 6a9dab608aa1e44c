import torch

from sgdetr.models.heads.detr import SpanQuerySelector


def make_selector(num_queries):
    torch.manual_seed(0)
    selector = SpanQuerySelector(hidden_dim=8, num_queries=num_queries,
                                 proposal_width=0.1)
    # Make the class logit the first memory feature: scores are known.
    selector.memory_proj = torch.nn.Identity()
    with torch.no_grad():
        selector.cls_branch.weight.zero_()
        selector.cls_branch.weight[0, 0] = 1.0
        selector.cls_branch.bias.zero_()
    return selector


def test_clip_spans_are_centred_on_real_clips():
    selector = make_selector(2)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    spans = selector.clip_spans(mask)
    assert torch.allclose(spans[0, :, 0], torch.tensor([0.125, 0.375, 0.625, 0.875]))
    assert torch.allclose(spans[1, :2, 0], torch.tensor([0.25, 0.75]))
    assert torch.allclose(spans[..., 1], torch.full((2, 4), 0.1))


def test_returns_top_k_real_clips_only():
    selector = make_selector(3)
    memory = torch.zeros(2, 6, 8)
    memory[:, :, 0] = torch.tensor([[0.1, 0.9, 0.3, 0.7, 0.5, 0.2],
                                    [0.4, 0.8, 0.6, 0.1, 99., 98.]])
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    out = selector(memory, mask)
    assert out['clip_indices'].tolist() == [[1, 3, 4], [1, 2, 0]]
    assert torch.allclose(out['cls_logits'],
                          torch.tensor([[0.9, 0.7, 0.5], [0.8, 0.6, 0.4]]))
    # Zero-initialised regression: the spans are the selected clips' proposals.
    centres = (out['clip_indices'].float() + 0.5) / torch.tensor([[6.], [4.]])
    assert torch.allclose(out['spans'][..., 0], centres, atol=1e-4)
    assert out['spans'].shape == (2, 3, 2)


def test_short_video_repeats_real_clips_never_padding():
    selector = make_selector(4)
    memory = torch.zeros(1, 5, 8)
    memory[0, :, 0] = torch.tensor([0.2, 0.5, 50., 60., 70.])
    mask = torch.tensor([[True, True, False, False, False]])
    out = selector(memory, mask)
    assert out['clip_indices'].tolist() == [[1, 0, 1, 0]]
    # the repeats are marked, so the head neither trains nor ranks them
    assert out['valid'].tolist() == [[True, True, False, False]]


def test_gradients_reach_scores_and_spans():
    selector = SpanQuerySelector(hidden_dim=8, num_queries=2)
    memory = torch.randn(1, 4, 8)
    out = selector(memory, torch.ones(1, 4, dtype=torch.bool))
    (out['cls_logits'].sum() + out['spans'].sum()).backward()
    assert selector.cls_branch.weight.grad.abs().sum() > 0
    assert selector.span_branch.layers[-1].weight.grad.abs().sum() > 0
