"""Convolutions in the forms XLA's CPU backend runs fast; every model's ``Conv``.

XLA's CPU convolution is tuned for 2D. A 3D kernel there runs 1.5x (3x3x3) to 14x (the 3-channel
5x7x7 stem) slower than the same arithmetic as 2D convolutions, and a depthwise 3D one (CSN,
X3D) about 100x slower than multiply-adds over shifted views; and XLA fuses the transpose that a
convolution's weight gradient needs into the producer of its input, a loop across the grain of
memory. On the CPU this module therefore rewrites a channels-last convolution, at trace time:
* ``fold`` (3D): frames folded into the batch as ``N * T_out``: kernels with ``kt == 1``
  (1x3x3, 1x7x7 stems, 1x1x1) become 2D convolutions, and 1x1 spatial kernels (3x1x1) a matrix
  product over the ``kt`` temporal taps stacked on the channel axis;
* ``taps`` (3D kernels with temporal and spatial extent: 3x3x3, the 5x7x7 stems): without a
  gradient, a 2D convolution over the stacked taps (SlowFast's 3-channel fast stem 53 ms against
  774 native); under a gradient, one 2D convolution per tap in sequence, so the train step's
  peak memory and with_cp's savings do not pay for a kt-times copy (``tapped_conv``);
* ``matmul`` (2D 1x1 kernels, and the 1x1 spatial case above): one matrix product whose
  weight gradient transposes its operands as separate, plain copies;
* ``shift`` (3D depthwise): a sum over taps of strided views times per-channel weights,
  accumulated in float32.
Grouped temporal kernels and 2D kernels larger than 1x1 stay native. GPU and TPU always get
XLA's native convolution. Parameters are untouched, so checkpoints and parity do not depend on
the backend. ``benchmarks/README.md`` has the measurements.
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

_CHANNELS_LAST_3D = lax.ConvDimensionNumbers((0, 4, 1, 2, 3), (4, 3, 0, 1, 2), (0, 4, 1, 2, 3))
_CHANNELS_LAST_2D = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
_DN_2D = ("NHWC", "HWIO", "NHWC")


def _pairs(padding, lhs_shape, rhs_shape, strides, dilation) -> list[tuple[int, int]]:
  if isinstance(padding, str):
    effective = [(k - 1) * d + 1 for k, d in zip(rhs_shape, dilation)]
    return [tuple(p) for p in lax.padtype_to_pads(lhs_shape, effective, strides, padding)]
  return [tuple(p) for p in padding]


def cpu_form(lhs_shape: Sequence[int], rhs_shape: Sequence[int], dimension_numbers,
             lhs_dilation, feature_group_count: int, batch_group_count: int) -> str:
  """'fold', 'taps', 'shift', 'matmul' or 'native': how ``conv_general_dilated`` runs this convolution
  on a CPU."""
  if batch_group_count != 1 or any(d != 1 for d in lhs_dilation or ()):
    return "native"
  if len(lhs_shape) == 4:
    dn = lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    one_by_one = tuple(rhs_shape[:2]) == (1, 1) and feature_group_count == 1
    return "matmul" if dn == _CHANNELS_LAST_2D and one_by_one else "native"
  if len(lhs_shape) != 5:
    return "native"
  if lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) != _CHANNELS_LAST_3D:
    return "native"
  kt, kh, kw, cin, cout = rhs_shape
  channels = lhs_shape[-1]
  if feature_group_count > 1 and feature_group_count == channels == cout and cin == 1:
    return "shift"
  if kt > 1 and feature_group_count > 1:
    return "native"
  if kt > 1 and (kh, kw) != (1, 1):
    return "taps"
  return "fold"


def _time_taps(lhs, kt, stride, dilation, padding):
  """The input padded in time, and its ``kt`` temporal taps (strided views, each with the
  output's frame count)."""
  x = jnp.pad(lhs, ((0, 0), padding, (0, 0), (0, 0), (0, 0))) if any(padding) else lhs
  t_out = (x.shape[1] - (kt - 1) * dilation - 1) // stride + 1
  return x, t_out, [lax.slice_in_dim(x, k * dilation, k * dilation + stride * (t_out - 1) + 1,
                                     stride, axis=1) for k in range(kt)]


def _conv2d(frames, kernel, strides, padding, rhs_dilation, feature_group_count=1,
            precision=None):
  """A channels-last 2D convolution of ``(N, T, H, W, C)`` frames folded into the batch."""
  n, t = frames.shape[:2]
  y = lax.conv_general_dilated(
      frames.reshape((n * t,) + frames.shape[2:]), kernel, strides, padding,
      rhs_dilation=rhs_dilation, dimension_numbers=_DN_2D,
      feature_group_count=feature_group_count, precision=precision)
  return y.reshape((n, t) + y.shape[1:])


def fold_conv(lhs, rhs, strides, padding, rhs_dilation, feature_group_count=1, precision=None):
  """Channels-last 3D convolution over frames folded into the batch, the ``kt`` temporal taps
  stacked on the channel axis (time-im2col): a 2D convolution, or a matrix product for 1x1
  spatial kernels. For ``kt > 1`` the stack is a kt-times copy of the input.

  ``padding`` is three (low, high) pairs.
  """
  kt, kh, kw, cin, cout = rhs.shape
  if kt > 1 and feature_group_count > 1:
    raise ValueError("fold_conv: grouped kernels with temporal extent are not folded")
  _, _, taps = _time_taps(lhs, kt, strides[0], rhs_dilation[0], padding[0])
  x = taps[0] if kt == 1 else jnp.concatenate(taps, axis=-1)
  if kh == kw == 1 and feature_group_count == 1:
    return matmul_conv(x, rhs.reshape(kt * cin, cout), strides[1:], padding[1:])
  kernel = rhs[0] if kt == 1 else jnp.transpose(rhs, (1, 2, 0, 3, 4)).reshape(
      kh, kw, kt * cin, cout)
  return _conv2d(x, kernel, strides[1:], padding[1:], rhs_dilation[1:], feature_group_count,
                 precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def tapped_conv(lhs, rhs, strides, padding, rhs_dilation, precision=None):
  """A kernel with temporal and spatial extent (3x3x3, the 5x7x7 stems), ``kt`` 2D convolutions
  over frames folded into the batch.

  Without a gradient: one 2D convolution over the stacked taps (``fold_conv``), the fastest
  form (SlowFast's fast stem 53 ms, per tap 94, native 774). Under a gradient the stacked
  copy (kt times the input, the largest tensor of a small model) set the train step's peak
  memory and undid with_cp's savings, so the forward and backward passes go tap by tap, in
  sequence (optimisation barriers stop XLA from running all taps at once or hoisting the
  backward's into the forward), and only the input is kept for the backward pass.
  """
  return fold_conv(lhs, rhs, strides, padding, rhs_dilation, precision=precision)


def _tapped_fwd(lhs, rhs, strides, padding, rhs_dilation, precision):
  x, _, _ = _time_taps(lhs, rhs.shape[0], strides[0], rhs_dilation[0], padding[0])
  y = None
  for k in range(rhs.shape[0]):
    tap = _time_taps(x, rhs.shape[0], strides[0], rhs_dilation[0], (0, 0))[2][k]
    y_k = _conv2d(tap, rhs[k], strides[1:], padding[1:], rhs_dilation[1:], precision=precision)
    y = y_k if y is None else y + y_k
    x, y = lax.optimization_barrier((x, y))
  return y, (lhs, rhs)


def _tapped_bwd(strides, padding, rhs_dilation, precision, res, g):
  lhs, rhs = res
  lhs, g = lax.optimization_barrier((lhs, g))
  kt, st, dt = rhs.shape[0], strides[0], rhs_dilation[0]
  x, t_out, _ = _time_taps(lhs, kt, st, dt, padding[0])
  dx, dw = None, []
  for k in range(kt):
    tap = _time_taps(x, kt, st, dt, (0, 0))[2][k]
    _, vjp = jax.vjp(lambda a, b: _conv2d(a, b, strides[1:], padding[1:], rhs_dilation[1:],
                                          precision=precision), tap, rhs[k])
    d_tap, d_w = vjp(g)
    # The tap's gradient back in place on the padded time axis (zeros between strided frames).
    end = x.shape[1] - k * dt - st * (t_out - 1) - 1
    d_x = lax.pad(d_tap, jnp.zeros((), d_tap.dtype),
                  [(0, 0, 0), (k * dt, end, st - 1), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    dx = d_x if dx is None else dx + d_x
    x, d_w = lax.optimization_barrier((x, d_w))  # not dx: a stem's is unused, let XLA drop it
    dw.append(d_w)
  dx = lax.slice_in_dim(dx, padding[0][0], padding[0][0] + lhs.shape[1], axis=1)
  return dx, jnp.stack(dw)


tapped_conv.defvjp(_tapped_fwd, _tapped_bwd)


def matmul_conv(lhs, kernel, strides, padding):
  """A channels-last 1x1 convolution (``kernel`` (C_in, C_out)) over the last two spatial axes,
  as one matrix product."""
  if any(sum(map(tuple, padding), ())):
    lhs = jnp.pad(lhs, ((0, 0),) * (lhs.ndim - 3) + tuple(map(tuple, padding)) + ((0, 0),))
  lhs = lhs[..., ::strides[0], ::strides[1], :]
  y = _matmul(lhs.reshape(-1, lhs.shape[-1]), kernel)
  return y.reshape(lhs.shape[:-1] + (kernel.shape[-1],))


@jax.custom_vjp
def _matmul(x, w):
  """``x @ w`` whose weight gradient transposes plain tensors: left to itself, XLA fuses the
  transpose ``x.T @ dy`` needs into the producer of ``dy`` (BatchNorm's backward), a loop
  that walks memory across the grain and measured 10x slower than the transpose alone."""
  return x @ w


def _matmul_fwd(x, w):
  return x @ w, (x, w)


def _matmul_bwd(res, g):
  x, w = res
  x, g = lax.optimization_barrier((x, g))
  return g @ w.T, x.T @ g


_matmul.defvjp(_matmul_fwd, _matmul_bwd)


def shift_conv(lhs, rhs, strides, padding, rhs_dilation):
  """Channels-last depthwise 3D convolution (kernel ``(kt, kh, kw, 1, C)``) as a sum of
  strided views times per-channel weights, accumulated in float32."""
  x = jnp.pad(lhs, ((0, 0),) + tuple(padding) + ((0, 0),))
  kernel = rhs[..., 0, :]
  outs = [(size - (k - 1) * d - 1) // s + 1
          for size, k, d, s in zip(x.shape[1:4], kernel.shape[:3], rhs_dilation, strides)]
  acc = jnp.promote_types(lhs.dtype, jnp.float32)
  y = None
  for a in range(kernel.shape[0]):
    for b in range(kernel.shape[1]):
      for c in range(kernel.shape[2]):
        start = (0,) + tuple(i * d for i, d in zip((a, b, c), rhs_dilation)) + (0,)
        limit = ((x.shape[0],) + tuple(o0 + s * (o - 1) + 1 for o0, s, o in
                                       zip(start[1:4], strides, outs)) + (x.shape[4],))
        view = lax.slice(x, start, limit, (1,) + tuple(strides) + (1,))
        term = view.astype(acc) * kernel[a, b, c].astype(acc)
        y = term if y is None else y + term
  return y.astype(jnp.result_type(lhs.dtype, rhs.dtype))


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
  """``lax.conv_general_dilated``, rewritten for the CPU backend as the module docstring says."""
  native = lambda: lax.conv_general_dilated(  # noqa: E731
      lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
      feature_group_count, batch_group_count, precision, preferred_element_type)
  if (jax.default_backend() != "cpu" or preferred_element_type is not None
      or _under_multi_device_mesh()):
    return native()
  form = cpu_form(lhs.shape, rhs.shape, dimension_numbers, lhs_dilation, feature_group_count,
                  batch_group_count)
  if form == "native":
    return native()
  spatial = lhs.ndim - 2
  dilation = tuple(rhs_dilation or (1,) * spatial)
  pads = _pairs(padding, lhs.shape[1:-1], rhs.shape[:spatial], window_strides, dilation)
  if form == "matmul":
    return matmul_conv(lhs, rhs.reshape(rhs.shape[-2:]), tuple(window_strides), pads)
  if form == "shift":
    return shift_conv(lhs, rhs, tuple(window_strides), pads, dilation)
  if form == "taps":
    return tapped_conv(lhs, rhs, tuple(window_strides), tuple(map(tuple, pads)), dilation,
                       precision)
  return fold_conv(lhs, rhs, tuple(window_strides), pads, dilation, feature_group_count,
                   precision)


def _under_multi_device_mesh() -> bool:
  """Whether tracing happens inside a ``with mesh:`` of several devices. There the rewrite is
  off: partitioned by XLA's SPMD pass, its matrix products gave a tiny SlowFast a loss 1.7e-3
  away from the replicated run's after two steps (tests/train/test_sharding.py, 8 simulated
  CPU devices, fsdp+model mesh), against 1e-5 with native convolutions; not yet understood."""
  from jax._src import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  physical = mesh_lib.thread_resources.env.physical_mesh
  return not physical.empty and physical.size > 1


class Conv(nn.Conv):
  """``nn.Conv`` (same parameters, same auto-names) with the CPU rewrite of 3D kernels."""

  conv_general_dilated: object = conv_general_dilated
