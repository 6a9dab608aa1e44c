from .attention_mask import group_attention_mask
from .criterion import SpanQueryCriterion
from .decoder import SpanDecoder, SpanDecoderLayer, span_sine_embedding
from .denoising import SpanDenoisingGenerator
from .query_selection import SpanQuerySelector
from .span_dino_head import SpanDINOHead

__all__ = [
    'SpanDINOHead', 'SpanQuerySelector', 'SpanDenoisingGenerator', 'SpanDecoder',
    'SpanDecoderLayer', 'SpanQueryCriterion', 'group_attention_mask',
    'span_sine_embedding'
]
