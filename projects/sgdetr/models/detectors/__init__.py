from .sgdetr import SGDETR
from .zero_shot import ZeroShotSaliency

__all__ = ['SGDETR', 'ZeroShotSaliency']
