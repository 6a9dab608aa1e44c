from .decoder import ConditionalDecoderLayer, ConditionalSpanDecoder
from .query_selection import MultiLevelQuerySelector, QuerySelection
from .span_detr_head import DETROutput, DETRPredictions, SpanDETRHead

__all__ = ['ConditionalDecoderLayer', 'ConditionalSpanDecoder', 'MultiLevelQuerySelector',
           'QuerySelection', 'SpanDETRHead', 'DETROutput', 'DETRPredictions']
