from .span_anchors import level_anchors
from .span_atss_head import SpanATSSHead

__all__ = ['SpanATSSHead', 'level_anchors']
