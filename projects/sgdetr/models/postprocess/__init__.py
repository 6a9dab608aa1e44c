from .span_fusion import WeightedSpanFusion, weighted_span_fusion
from .windows import select_windows

__all__ = ['WeightedSpanFusion', 'weighted_span_fusion', 'select_windows']
