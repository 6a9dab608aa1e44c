from .span_fusion import WeightedSpanFusion, weighted_span_fusion
from .windows import detr_windows, finalize_windows, round_scores, select_windows

__all__ = ['WeightedSpanFusion', 'weighted_span_fusion', 'detr_windows',
           'finalize_windows', 'round_scores', 'select_windows']
