"""The residual block every ResNet variant shares: a stack of ConvModules plus a shortcut.

2D and 3D Basic/Bottleneck blocks differ only in their convs' kernels, strides and padding;
the backbones compute those (``ConvSpec``s) and this module runs them. Submodule names are
MMAction2's: ``conv1``, ``conv2``(, ``conv3``), ``downsample``.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv_module import ConvModule


class ConvSpec(NamedTuple):
  features: int
  kernel_size: tuple[int, ...]
  strides: tuple[int, ...]
  padding: tuple[int, ...]
  dilation: tuple[int, ...] | int = 1
  conv_layer: Callable[..., nn.Module] | None = None  # ConvModule.conv_layer (TSM, TIN, audio)
  norm: bool = True
  act: str | None = "relu"  # the last conv never has one


def checkpointed(block: type[nn.Module], with_cp: bool) -> type[nn.Module]:
  """``block`` rematerialised when ``with_cp`` (MMAction2's ``torch.utils.checkpoint`` per
  residual block): the backward pass recomputes the block's activations instead of keeping
  them, trading compute for memory. Parameter paths are unchanged. The block must be called
  as ``block(x, train)``, ``train`` positional (a Python bool, static under remat)."""
  return nn.remat(block, static_argnums=(2,)) if with_cp else block


class ResBlock(nn.Module):
  """relu(convs(x) + shortcut(x)); the last conv has no activation (and optionally a
  zero-initialised BN scale, MMAction2's ``zero_init_residual``).

  ``mid`` runs between the first and second conv: TANet puts its temporal module there.
  """

  convs: Sequence[ConvSpec]
  downsample_strides: Sequence[int] | None = None  # None: identity shortcut
  zero_init_residual: bool = False
  norm_eval: bool = False
  mid: Callable[[Any], Any] | None = None
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    out = x
    for i, spec in enumerate(self.convs):
      last = i == len(self.convs) - 1
      out = ConvModule(spec.features, spec.kernel_size, strides=spec.strides,
                       padding=spec.padding, dilation=spec.dilation, norm=spec.norm,
                       act=None if last else spec.act, conv_layer=spec.conv_layer,
                       bn_zero_init=last and self.zero_init_residual, norm_groups=self.norm_groups,
                       dtype=self.dtype, name=f"conv{i + 1}")(out, train, self.norm_eval)
      if i == 0 and self.mid is not None:
        out = self.mid(out)
    if self.downsample_strides is not None:
      n = len(self.downsample_strides)
      x = ConvModule(self.convs[-1].features, (1,) * n, strides=tuple(self.downsample_strides),
                     act=None, norm_groups=self.norm_groups, dtype=self.dtype,
                     name="downsample")(x, train, self.norm_eval)
    return nn.relu(out + x)
