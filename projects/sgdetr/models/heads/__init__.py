from .atss import ATSSOutput, SpanATSSHead
from .detr import (ConditionalSpanDecoder, DETROutput, DETRPredictions, MultiLevelQuerySelector,
                   QuerySelection, SpanDETRHead)
from .query_groups import AnchorSamples, QueryGroup, block_diagonal_mask

__all__ = ['SpanDETRHead', 'DETROutput', 'DETRPredictions', 'MultiLevelQuerySelector',
           'QuerySelection', 'ConditionalSpanDecoder', 'SpanATSSHead', 'ATSSOutput',
           'AnchorSamples', 'QueryGroup', 'block_diagonal_mask']
