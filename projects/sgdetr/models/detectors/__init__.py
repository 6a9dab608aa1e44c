from .sgdetr import SGDETR, source_video
from .zero_shot import ZeroShotSaliency

__all__ = ['SGDETR', 'ZeroShotSaliency', 'source_video']
