from .moment_data_sample import MomentDataSample
from .spans import (drop_height, lift_spans, span_cxw_to_xx, span_giou, span_iou,
                    span_iou_exact, span_overlap, span_xx_to_cxw)

__all__ = ['MomentDataSample', 'span_cxw_to_xx', 'span_xx_to_cxw', 'span_iou',
           'span_giou', 'span_iou_exact', 'span_overlap', 'lift_spans', 'drop_height']
