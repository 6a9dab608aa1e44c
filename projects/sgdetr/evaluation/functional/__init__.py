"""Pure numpy metric functions (no MMEngine; span IoU from :mod:`sgdetr.structures.spans`).

- :func:`eval_qvhighlights`: the official QVHighlights evaluation (MR + HD).
- :func:`eval_moment_recall`: R@k at IoU thresholds and mIoU (Charades-STA, TACoS).
- :func:`eval_youtube_highlights`, :func:`eval_tvsum`: highlight mAP per domain.
- :func:`eval_vcmr`, :func:`video_recall`: video corpus moment retrieval (TVR).
"""
from .highlight import (TVSUM_TOP_K, eval_tvsum, eval_youtube_highlights,
                        trapezoid_average_precision)
from .qvhighlights import (HL_LEVELS, MR_IOU_THRESHOLDS, MR_LENGTH_RANGES,
                           clip_saliency_table, eval_qvhighlights,
                           highlight_average_precision, mr_average_precision,
                           rank_clips, top1_iou)
from .recall import (RECALL_IOU_THRESHOLDS, RECALL_TOP_K, best_gt_iou,
                     eval_moment_recall)
from .vcmr import VCMR_IOU_THRESHOLDS, VCMR_TOP_K, eval_vcmr, video_recall

__all__ = [
    'eval_qvhighlights', 'eval_moment_recall', 'eval_youtube_highlights',
    'eval_tvsum', 'mr_average_precision', 'top1_iou',
    'highlight_average_precision', 'rank_clips', 'clip_saliency_table',
    'trapezoid_average_precision', 'best_gt_iou', 'MR_IOU_THRESHOLDS',
    'MR_LENGTH_RANGES', 'HL_LEVELS', 'RECALL_IOU_THRESHOLDS', 'RECALL_TOP_K',
    'TVSUM_TOP_K', 'eval_vcmr', 'video_recall', 'VCMR_TOP_K', 'VCMR_IOU_THRESHOLDS'
]
