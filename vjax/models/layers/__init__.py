"""Building blocks shared by every backbone and head."""

from vjax.models.layers.conv2plus1d import Conv2plus1d
from vjax.models.layers.conv_module import ConvModule, pad_pairs
from vjax.models.layers.norm import BatchNorm
from vjax.models.layers.res_block import ConvSpec, ResBlock, checkpointed
from vjax.models.layers.attention import MultiheadAttention
