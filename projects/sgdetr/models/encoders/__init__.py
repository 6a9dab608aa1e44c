from .feed_forward import FeedForwardBlock
from .global_saliency import GlobalSaliencyModule
from .input_projection import InputProjection
from .local_saliency import SALIENCY_PADDING_VALUE, LocalSaliencyHead
from .pooling_encoder import AttentionPooling, PoolingEncoder, masked_mean
from .positional_encoding import SinePositionalEncoding1D
from .saliency_guided_cross_attention import SaliencyGuidedCrossAttention
from .saliency_guided_encoder import SaliencyGuidedEncoder
from .sgca_encoder import (SaliencyGuidedCrossAttentionEncoder,
                           SaliencyGuidedCrossAttentionLayer)
from .video_context_encoder import VideoContextEncoder, VideoSelfAttentionLayer

__all__ = [
    'InputProjection', 'SinePositionalEncoding1D', 'AttentionPooling', 'PoolingEncoder',
    'masked_mean', 'LocalSaliencyHead', 'SALIENCY_PADDING_VALUE',
    'SaliencyGuidedCrossAttention', 'SaliencyGuidedCrossAttentionLayer',
    'SaliencyGuidedCrossAttentionEncoder', 'VideoContextEncoder', 'VideoSelfAttentionLayer',
    'FeedForwardBlock', 'GlobalSaliencyModule', 'SaliencyGuidedEncoder'
]
