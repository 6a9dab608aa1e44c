from .detr import SpanDenoisingGenerator, SpanDINOHead, SpanQuerySelector

__all__ = ['SpanDINOHead', 'SpanQuerySelector', 'SpanDenoisingGenerator']
from .atss import SpanATSSHead  # noqa: E402

__all__ += ['SpanATSSHead']
