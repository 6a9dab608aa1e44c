from .atss import SpanATSSHead
from .detr import (ConditionalSpanDecoder, MultiLevelQuerySelector, QueryGroup,
                   SpanDenoisingQueries, SpanDETRHead)

__all__ = ['SpanDETRHead', 'MultiLevelQuerySelector', 'ConditionalSpanDecoder',
           'SpanDenoisingQueries', 'QueryGroup', 'SpanATSSHead']
