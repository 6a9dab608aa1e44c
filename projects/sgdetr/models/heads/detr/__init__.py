from .decoder import ConditionalDecoderLayer, ConditionalSpanDecoder
from .denoising import SpanDenoisingQueries
from .query_group import QueryGroup, block_diagonal_mask
from .query_selection import MultiLevelQuerySelector
from .span_detr_head import SpanDETRHead

__all__ = ['ConditionalDecoderLayer', 'ConditionalSpanDecoder', 'SpanDenoisingQueries',
           'QueryGroup', 'block_diagonal_mask', 'MultiLevelQuerySelector', 'SpanDETRHead']
