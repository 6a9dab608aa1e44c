from .feature_pyramid import TemporalFeaturePyramid
from .global_saliency import GlobalSaliencyModule
from .input_projection import InputProjection
from .learned_aggregation import LearnedAggregationLayer, LearnedAggregationPooling
from .local_saliency import SALIENCY_PADDING_VALUE, LocalSaliencyHead
from .modality_embedding import ModalityEmbedding
from .saliency_guided_cross_attention import SaliencyGuidedCrossAttention
from .saliency_guided_encoder import EncoderOutput, SaliencyGuidedEncoder
from .text_to_video_encoder import TextToVideoEncoder
from .token_encoders import MomentTokenEncoder, SentenceTokenEncoder
from .video_context_encoder import VideoContextEncoder

__all__ = [
    'InputProjection', 'ModalityEmbedding', 'LearnedAggregationLayer', 'LearnedAggregationPooling',
    'LocalSaliencyHead', 'SALIENCY_PADDING_VALUE', 'SaliencyGuidedCrossAttention',
    'TextToVideoEncoder', 'VideoContextEncoder', 'GlobalSaliencyModule',
    'SaliencyGuidedEncoder', 'EncoderOutput', 'TemporalFeaturePyramid', 'SentenceTokenEncoder',
    'MomentTokenEncoder'
]
