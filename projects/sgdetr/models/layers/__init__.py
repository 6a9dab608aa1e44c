from .attention import ProjectedAttention, ProjectionFreeAttention, attend
from .dropout import Dropout, dropout, keep_mask
from .conv_blocks import ConvNormStack, SeparableConv1d, channel_norm, masked_conv
from .feed_forward import FeedForward
from .mlp import MLP
from .transformer_layer import SelfAttentionLayer
from .utils import clones, inverse_sigmoid

__all__ = ['ProjectionFreeAttention', 'ProjectedAttention', 'attend', 'Dropout', 'dropout',
           'keep_mask', 'ConvNormStack', 'SeparableConv1d', 'channel_norm',
           'masked_conv', 'FeedForward', 'MLP', 'SelfAttentionLayer', 'clones',
           'inverse_sigmoid']
