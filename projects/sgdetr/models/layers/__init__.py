from .attention import ProjectedAttention, ProjectionFreeAttention, attend
from .cpu_fast_path import use_cpu_fast_path
from .conv_blocks import ConvNormStack, SeparableConv1d, channel_norm, masked_conv
from .feed_forward import FeedForward
from .mlp import MLP
from .positional_encoding import SinePositionalEncoding1D, sine_span_embedding
from .transformer_layer import SelfAttentionLayer
from .utils import clones, inverse_sigmoid, skippable_mask, unit_vectors

__all__ = ['ProjectionFreeAttention', 'ProjectedAttention', 'attend', 'use_cpu_fast_path',
           'ConvNormStack', 'SeparableConv1d', 'channel_norm', 'masked_conv', 'FeedForward',
           'MLP', 'SinePositionalEncoding1D', 'sine_span_embedding', 'SelfAttentionLayer',
           'clones', 'inverse_sigmoid', 'skippable_mask', 'unit_vectors']
