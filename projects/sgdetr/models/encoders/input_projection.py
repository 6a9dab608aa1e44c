"""Projection of input tokens (video clips or text tokens) to the hidden size."""
from torch import Tensor, nn

from sgdetr.registry import MODELS


@MODELS.register_module()
class InputProjection(nn.Module):
    """A stack of ``LayerNorm -> Dropout -> Linear`` blocks, ReLU between them.

    The heavy dropout (0.5) sits on the raw features: they are
    high-dimensional and the datasets are small, so it is the main regulariser.

    Args:
        in_channels: feature size of the input tokens (Dv or Dt).
        out_channels: hidden size H.
        num_layers: number of blocks; the first maps ``in_channels -> H``.
        dropout: dropout before every Linear.
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 num_layers: int = 2, dropout: float = 0.5):
        super().__init__()
        dims = [in_channels] + [out_channels] * num_layers
        blocks = []
        for i in range(num_layers):
            linear = nn.Linear(dims[i], dims[i + 1])
            last = i == num_layers - 1
            nn.init.xavier_uniform_(
                linear.weight, gain=1.0 if last else nn.init.calculate_gain('relu'))
            nn.init.zeros_(linear.bias)
            blocks += [nn.LayerNorm(dims[i]), nn.Dropout(dropout), linear]
            if not last:
                blocks.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, in_channels) -> (B, T, out_channels); tokens are independent."""
        return self.layers(x)
