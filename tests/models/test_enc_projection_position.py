"""InputProjection and SinePositionalEncoding1D."""
import math

import torch

from sgdetr.models.encoders import InputProjection, SinePositionalEncoding1D
from sgdetr.registry import MODELS


def test_projection_shape_and_token_independence():
    proj = MODELS.build(dict(type='InputProjection', in_channels=6, out_channels=4)).eval()
    x = torch.randn(2, 5, 6)
    y = proj(x)
    assert y.shape == (2, 5, 4)
    x2 = x.clone()
    x2[:, 3:] = 100.  # other tokens (e.g. padding) change nothing
    assert torch.allclose(proj(x2)[:, :3], y[:, :3])


def test_projection_layers():
    proj = InputProjection(6, 4, num_layers=2, dropout=0.5)
    kinds = [type(m).__name__ for m in proj.layers]
    assert kinds == ['LayerNorm', 'Dropout', 'Linear', 'ReLU',
                     'LayerNorm', 'Dropout', 'Linear']
    assert proj.layers[1].p == 0.5
    proj.eval()
    assert torch.equal(proj(torch.ones(1, 2, 6)), proj(torch.ones(1, 2, 6)))


def test_positional_encoding_hand_values():
    pe = SinePositionalEncoding1D(num_feats=4, temperature=100., normalize=False)
    mask = torch.tensor([[True, True, False]])
    pos = pe(mask)
    assert pos.shape == (1, 3, 4)
    # clip i sits at position i + 1; frequencies 1 and 1/100**(2/4) = 1/10
    for i in range(2):
        p = i + 1.
        expected = torch.tensor([math.sin(p), math.cos(p), math.sin(p / 10), math.cos(p / 10)])
        assert torch.allclose(pos[0, i], expected, atol=1e-6)
    assert torch.equal(pos[0, 2], torch.zeros(4))


def test_positional_encoding_padding_invariance():
    pe = MODELS.build(dict(type='SinePositionalEncoding1D', num_feats=8))
    short = pe(torch.ones(1, 3, dtype=torch.bool))
    padded = pe(torch.tensor([[True, True, True, False, False]]))
    assert torch.allclose(padded[:, :3], short, atol=1e-6)
    assert padded[:, 3:].abs().sum() == 0
    # normalised: the last clip of a video is at 2*pi whatever its length
    long = pe(torch.ones(1, 7, dtype=torch.bool))
    assert torch.allclose(long[0, -1], short[0, -1], atol=1e-5)
