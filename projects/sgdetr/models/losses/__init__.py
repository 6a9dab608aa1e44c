from .moment_clip_loss import MomentClipLoss
from .moment_sentence_alignment_loss import MomentSentenceAlignmentLoss
from .saliency_loss import SaliencyLoss
from .saliency_ranking import saliency_margin_ranking_loss, saliency_rank_contrastive_loss
from .targets import clips_in_spans, saliency_rank_labels

__all__ = [
    'SaliencyLoss', 'MomentSentenceAlignmentLoss', 'MomentClipLoss',
    'saliency_margin_ranking_loss', 'saliency_rank_contrastive_loss',
    'clips_in_spans', 'saliency_rank_labels'
]
