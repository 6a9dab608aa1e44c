from .moment_clip_loss import MomentClipLoss
from .moment_sentence_alignment_loss import MomentSentenceAlignmentLoss
from .saliency_loss import SaliencyLoss, rank_contrastive_loss

__all__ = ['SaliencyLoss', 'rank_contrastive_loss', 'MomentSentenceAlignmentLoss',
           'MomentClipLoss']
