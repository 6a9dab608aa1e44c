from .span_anchors import level_anchors
from .span_atss_head import ATSSOutput, SpanATSSHead

__all__ = ['SpanATSSHead', 'ATSSOutput', 'level_anchors']
