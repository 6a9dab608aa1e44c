from .saliency_runs import runs_above_thresholds
from .span_fusion import weighted_span_fusion
from .window_merge import merge_moments, merge_saliency, merge_window_samples
from .windows import detr_windows, finalize_windows, round_scores, select_windows

__all__ = ['weighted_span_fusion', 'detr_windows',
           'finalize_windows', 'round_scores', 'select_windows', 'merge_moments',
           'merge_saliency', 'merge_window_samples', 'runs_above_thresholds']
