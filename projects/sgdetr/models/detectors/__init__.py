from .zero_shot import ZeroShotSaliency

__all__ = ['ZeroShotSaliency']
