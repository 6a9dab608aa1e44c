"""Plain MLP of Linear layers with ReLU between them (the heads' MLP)."""
from torch import Tensor, nn


class MLP(nn.Module):
    """``num_layers`` Linear layers, ReLU between them, none after the last.

    Weights are Xavier-initialised with the ReLU gain (the last layer too, as
    released), biases 0; ``zero_last`` starts the last layer at zero (offset
    regressors then start at their reference).

    Args:
        in_dims, hidden_dims, out_dims: layer sizes.
        num_layers: number of Linear layers.
        zero_last: zero-initialise the last layer.
    """

    def __init__(self, in_dims: int, hidden_dims: int, out_dims: int,
                 num_layers: int, zero_last: bool = False):
        super().__init__()
        dims = [in_dims] + [hidden_dims] * (num_layers - 1) + [out_dims]
        layers = []
        for i in range(num_layers):
            linear = nn.Linear(dims[i], dims[i + 1])
            nn.init.xavier_uniform_(linear.weight, gain=nn.init.calculate_gain('relu'))
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < num_layers - 1:
                layers.append(nn.ReLU(inplace=True))
        if zero_last:
            nn.init.zeros_(layers[-1].weight)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_dims) -> (..., out_dims)."""
        return self.layers(x)
