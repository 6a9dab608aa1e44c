from .match_costs import PredictedIoUCost, ProbabilityCost, SpanIoUCost, SpanL1Cost
from .matcher import SpanHungarianMatcher
from .span_atss_assigner import SpanATSSAssigner
from .span_coder import SpanDeltaCoder
from .span_overlaps import SpanOverlaps1D

__all__ = ['SpanHungarianMatcher', 'ProbabilityCost', 'SpanL1Cost', 'SpanIoUCost',
           'PredictedIoUCost', 'SpanATSSAssigner', 'SpanDeltaCoder', 'SpanOverlaps1D']
