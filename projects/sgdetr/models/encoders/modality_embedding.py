"""Learned embedding of a token's modality (text or video)."""
from torch import Tensor, nn

from sgdetr.registry import MODELS


@MODELS.register_module()
class ModalityEmbedding(nn.Module):
    """Adds a learned vector per modality: index 0 to text tokens, 1 to clips.

    Args:
        embed_dims: H.
    """

    TEXT, VIDEO = 0, 1

    def __init__(self, embed_dims: int = 256):
        super().__init__()
        self.embedding = nn.Embedding(2, embed_dims)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, text: Tensor, video: Tensor):
        """text (B, N, H), video (B, L, H) -> both with their modality vector added."""
        return text + self.embedding.weight[self.TEXT], video + self.embedding.weight[self.VIDEO]
