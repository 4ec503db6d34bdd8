"""TANet's Temporal Adaptive Module (Liu et al. 2021) on channels-last frame batches.

A local branch gates every (frame, channel) by a sigmoid of a temporal conv over pooled
features; a global branch predicts, per video and channel, a softmax kernel that then
aggregates neighbouring frames. Submodule names are MMAction2's ``G.{0,1,3}``/``L.{0,1,3}``.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.layers.conv import Conv
from vjax.models.layers.norm import BatchNorm
from vjax.models.layers.torch_init import torch_kernel_init


class TAM(nn.Module):
  num_segments: int
  in_channels: int | None = None  # read from the input; checked when given
  alpha: int = 2
  adaptive_kernel_size: int = 3
  beta: int = 4
  conv1d_kernel_size: int = 3
  adaptive_convolution_stride: int = 1
  adaptive_convolution_padding: int = 1
  init_std: float = 0.001  # accepted as MMAction2 does; it never applies it either
  norm_eval: bool = False
  norm_groups: int | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N * num_segments, H, W, C) -> (N * T', H, W, C), T' the adaptive conv's length."""
    if self.alpha <= 0 or self.beta <= 0:
      raise ValueError(f"TAM needs alpha > 0 and beta > 0, got {self.alpha}, {self.beta}")
    n, h, w, c = x.shape
    if self.in_channels is not None and c != self.in_channels:
      raise ValueError(f"TAM in_channels={self.in_channels} but the input has {c} channels")
    t = self.num_segments
    b = n // t
    frames = x.reshape((b, t, h, w, c))
    pooled = frames.mean(axis=(2, 3))  # (b, t, c)

    def bn(name):
      return BatchNorm(use_running_average=not train or self.norm_eval,
                       num_groups=self.norm_groups, dtype=self.dtype, name=name)

    # Global branch: a temporal kernel per (video, channel), from that channel's frame means.
    g = pooled.transpose(0, 2, 1).reshape((b * c, t))
    g = nn.Dense(t * self.alpha, use_bias=False, kernel_init=torch_kernel_init, dtype=self.dtype,
                 name="G_0")(g)
    g = nn.relu(bn("G_1")(g))
    g = nn.Dense(self.adaptive_kernel_size, use_bias=False, kernel_init=torch_kernel_init,
                 dtype=self.dtype, name="G_3")(g)
    kernel = nn.softmax(g.astype(jnp.float32), axis=-1).reshape((b, c, -1)).astype(x.dtype)

    # Local branch: a (frame, channel) gate from a temporal conv bottleneck.
    k = self.conv1d_kernel_size
    gate = Conv(c // self.beta, (k,), padding=((k // 2, k // 2),), use_bias=False,
                   kernel_init=torch_kernel_init, dtype=self.dtype, name="L_0")(pooled)
    gate = nn.relu(bn("L_1")(gate))
    gate = Conv(c, (1,), use_bias=False, kernel_init=torch_kernel_init, dtype=self.dtype,
                   name="L_3")(gate)
    frames = frames * nn.sigmoid(gate)[:, :, None, None, :]

    # Temporal adaptive aggregation: a depthwise temporal conv with the predicted kernels.
    s, p, size = (self.adaptive_convolution_stride, self.adaptive_convolution_padding,
                  self.adaptive_kernel_size)
    padded = jnp.pad(frames, ((0, 0), (p, p), (0, 0), (0, 0), (0, 0)))
    t_out = (t + 2 * p - size) // s + 1
    y = sum(padded[:, i:i + s * (t_out - 1) + 1:s] * kernel[:, None, None, None, :, i]
            for i in range(size))
    return y.reshape((b * t_out, h, w, c))
