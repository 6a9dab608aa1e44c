from .match_costs import PredictedIoUCost, SpanIoUCost, SpanL1Cost
from .matcher import SpanHungarianMatcher

__all__ = ['SpanHungarianMatcher', 'SpanL1Cost', 'SpanIoUCost', 'PredictedIoUCost']
from .span_atss_assigner import SpanATSSAssigner  # noqa: E402
from .span_coder import SpanDeltaCoder  # noqa: E402
from .span_overlaps import SpanOverlaps1D  # noqa: E402

__all__ += ['SpanATSSAssigner', 'SpanDeltaCoder', 'SpanOverlaps1D']
