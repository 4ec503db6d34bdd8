"""TSM's temporal shift (Lin et al. 2019) on channels-last frame batches.

Frames arrive as (N * num_segments, ..., C), videos contiguous. ``1/shift_div`` of the
channels take the next segment's values, the next ``1/shift_div`` the previous segment's,
zeros where there is none; the rest stay. No parameters: it costs two slices and a concat.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv import Conv


def temporal_shift(x, num_segments: int, shift_div: int):
  """MMAction2's ``TemporalShift.shift`` for channels-last (N * num_segments, ..., C)."""
  n, c = x.shape[0], x.shape[-1]
  fold = c // shift_div
  v = x.reshape((n // num_segments, num_segments) + x.shape[1:])
  zeros = jnp.zeros_like(v[:, :1, ..., :fold])
  from_next = jnp.concatenate([v[:, 1:, ..., :fold], zeros], axis=1)
  from_prev = jnp.concatenate([zeros, v[:, :-1, ..., fold:2 * fold]], axis=1)
  out = jnp.concatenate([from_next, from_prev, v[..., 2 * fold:]], axis=-1)
  return out.reshape(x.shape)


class TemporalShift(nn.Module):
  """Shifts the input, then runs ``net`` (built here as submodule ``net``, MMAction2's
  ``TemporalShift.net``, so wrapped weights keep their checkpoint path)."""

  net: Callable[..., nn.Module]
  num_segments: int = 3
  shift_div: int = 8

  @nn.compact
  def __call__(self, x, *args, **kwargs):
    return self.net(name="net")(temporal_shift(x, self.num_segments, self.shift_div),
                                *args, **kwargs)


def shifted_conv(num_segments: int, shift_div: int) -> Callable[..., nn.Module]:
  """``ConvModule.conv_layer`` for TSM's 'blockres' place: the shift wraps the conv itself."""

  def build(name: str, **conv_kwargs: Any) -> nn.Module:
    return TemporalShift(functools.partial(Conv, **conv_kwargs), num_segments=num_segments,
                         shift_div=shift_div, name=name)

  return build
