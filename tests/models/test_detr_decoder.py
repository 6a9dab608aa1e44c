import torch

from sgdetr.models.heads.detr import SpanDecoder, span_sine_embedding
from sgdetr.models.heads.detr.attention_mask import group_attention_mask


def test_sine_embedding():
    embed = span_sine_embedding(torch.tensor([[0.0, 0.25]]), num_feats=4)
    assert embed.shape == (1, 8)
    # Coordinate 0 (= 0): sin 0, cos 0 pairs; coordinate 1: first frequency 1.
    assert torch.allclose(embed[0, :4], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    assert torch.allclose(embed[0, 4:6], torch.tensor([1.0, 0.0]), atol=1e-6)


def make_inputs(batch=2, queries=4, clips=5, hidden=16):
    torch.manual_seed(0)
    return (torch.randn(batch, queries, hidden), torch.rand(batch, queries, 2) * 0.5 + 0.2,
            group_attention_mask([torch.ones(batch, queries, dtype=torch.bool)]),
            torch.randn(batch, clips, hidden), torch.randn(batch, clips, hidden),
            torch.ones(batch, clips, dtype=torch.bool))


def test_refinement_starts_at_reference_and_detaches_between_layers():
    decoder = SpanDecoder(num_layers=3, hidden_dim=16, num_heads=2, ffn_dim=32).eval()
    query, ref, attn_mask, memory, pos, mask = make_inputs()
    hidden, spans = decoder(query, ref, attn_mask, memory, pos, mask)
    assert hidden.shape == (3, 2, 4, 16) and spans.shape == (3, 2, 4, 2)
    assert torch.allclose(spans[0], ref, atol=1e-5)  # zero-initialised deltas

    for branch in decoder.span_branches:  # give the deltas some effect
        torch.nn.init.normal_(branch.layers[-1].weight, std=0.1)
    _, spans = decoder(query, ref, attn_mask, memory, pos, mask)
    spans[2].sum().backward()
    # The last layer's span is its delta on a detached reference: earlier
    # span branches get no gradient from it.
    assert decoder.span_branches[2].layers[0].weight.grad.abs().sum() > 0
    for branch in decoder.span_branches[:2]:
        grad = branch.layers[0].weight.grad
        assert grad is None or grad.abs().sum() == 0


def test_padded_clips_do_not_change_outputs():
    decoder = SpanDecoder(num_layers=2, hidden_dim=16, num_heads=2, ffn_dim=32).eval()
    query, ref, attn_mask, memory, pos, mask = make_inputs(batch=1)
    padded_memory = torch.cat((memory, 100 * torch.randn(1, 3, 16)), 1)
    padded_pos = torch.cat((pos, torch.randn(1, 3, 16)), 1)
    padded_mask = torch.cat((mask, torch.zeros(1, 3, dtype=torch.bool)), 1)
    hidden, spans = decoder(query, ref, attn_mask, memory, pos, mask)
    hidden_p, spans_p = decoder(query, ref, attn_mask, padded_memory, padded_pos,
                                padded_mask)
    assert torch.allclose(hidden, hidden_p, atol=1e-5)
    assert torch.allclose(spans, spans_p, atol=1e-6)
