from .attention import ProjectionFreeAttention
from .conv_blocks import ConvNormStack, SeparableConv1d, channel_norm, masked_conv
from .feed_forward import FeedForward
from .mlp import MLP
from .transformer_layer import SelfAttentionLayer
from .utils import clones, inverse_sigmoid

__all__ = ['ProjectionFreeAttention', 'ConvNormStack', 'SeparableConv1d', 'channel_norm',
           'masked_conv', 'FeedForward', 'MLP', 'SelfAttentionLayer', 'clones',
           'inverse_sigmoid']
