"""Position-wise feed-forward network of the released transformer layers."""
from torch import Tensor, nn

from .cpu_fast_path import fused_feed_forward

#: initial negative slope of the PReLU (and the gain of its Xavier init)
PRELU_SLOPE = 0.25


class FeedForward(nn.Module):
    """``Linear -> PReLU -> Dropout -> Linear``, no residual, no norm (parameter names
    ``layers.0``, ``layers.1``, ``layers.3``, as in the released checkpoints).

    With ``cpu_fast_path`` (see :mod:`.cpu_fast_path`) CPU tensors go through one
    fused autograd function that computes the same.

    Args:
        embed_dims: input and output size H.
        expansion: hidden size is ``expansion * H``.
        dropout: dropout after the activation.
    """

    def __init__(self, embed_dims: int, expansion: int = 4, dropout: float = 0.1):
        super().__init__()
        hidden = embed_dims * expansion
        self.layers = nn.Sequential(nn.Linear(embed_dims, hidden), nn.PReLU(init=PRELU_SLOPE),
                                    nn.Dropout(dropout), nn.Linear(hidden, embed_dims))
        gain = nn.init.calculate_gain('leaky_relu', PRELU_SLOPE)
        nn.init.xavier_uniform_(self.layers[0].weight, gain=gain)
        nn.init.xavier_uniform_(self.layers[3].weight)
        nn.init.zeros_(self.layers[0].bias)
        nn.init.zeros_(self.layers[3].bias)
        self.cpu_fast_path = False

    def forward(self, x: Tensor) -> Tensor:
        """(..., H) -> (..., H)."""
        if self.cpu_fast_path and x.device.type == 'cpu':
            return fused_feed_forward(self.layers, x, self.training)
        return self.layers(x)
