from .span_atss_head import SpanATSSHead

__all__ = ['SpanATSSHead']
