"""TIN's differentiable temporal shift (Shao et al. 2020), mmcv's ``tin_shift`` op in jnp.

mmcv runs it as a CUDA kernel; here it is a gather, so it runs anywhere XLA does and
``jax.grad`` differentiates it exactly. (mmcv's own backward kernel moves the gradient by
``+shift`` where the forward moved the data by ``+shift``, i.e. the wrong way for non-zero
shifts; vjax does not reproduce that.)
"""

from __future__ import annotations

import jax.numpy as jnp


def tin_shift(x, shift):
  """Shifts channel groups of channels-last (N, T, ..., C) along T by integer frames.

  ``shift`` is (N, G): channel group ``g`` (C / G consecutive channels) of sample ``n`` moves
  ``shift[n, g]`` frames later, ``out[t] = x[t - shift]``, zero where ``t - shift`` is
  outside the clip.
  """
  n, t, c = x.shape[0], x.shape[1], x.shape[-1]
  groups = shift.shape[1]
  if c % groups:
    raise ValueError(f"tin_shift: {c} channels do not split into {groups} groups")
  per_channel = jnp.repeat(shift.astype(jnp.int32), c // groups, axis=1)  # (N, C)
  src = jnp.arange(t)[None, :, None] - per_channel[:, None, :]  # (N, T, C)
  flat = x.reshape((n, t, -1, c))
  idx = jnp.broadcast_to(jnp.clip(src, 0, t - 1)[:, :, None, :], flat.shape)
  out = jnp.take_along_axis(flat, idx, axis=1)
  valid = ((src >= 0) & (src < t))[:, :, None, :]
  return jnp.where(valid, out, jnp.zeros_like(out)).reshape(x.shape)


def linear_sampler(x, offset):
  """Shifts channel groups of (N, T, ..., C) by fractional ``offset`` (N, G) frames: the
  linear interpolation of the two integer shifts around it (MMAction2's ``linear_sampler``)."""
  floor = jnp.floor(offset)
  w1 = offset - floor  # the gradient reaches ``offset`` through these weights only
  w0 = 1 - w1
  c, groups = x.shape[-1], offset.shape[1]
  bshape = (x.shape[0],) + (1,) * (x.ndim - 2) + (c,)

  def per_channel(w):
    return jnp.repeat(w, c // groups, axis=1).reshape(bshape).astype(x.dtype)

  shift0 = floor.astype(jnp.int32)
  return per_channel(w0) * tin_shift(x, shift0) + per_channel(w1) * tin_shift(x, shift0 + 1)
