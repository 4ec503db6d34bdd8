"""ST-GCN's 9x1 temporal convolution on the CPU, forward and forward+backward, in the forms
XLA could run it (vjax takes ``conv1d``: vjax.models.backbones.stgcn._temporal_conv1d).

    .venv/bin/python benchmarks/temporal_conv.py [--rows 32 --frames 300 --joints 17 --channels 64]

Prints the best of ``--repeats`` timings per form and its largest difference from XLA's 2D
convolution. Run it on an idle machine (figures in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def forms(kt: int):
  pad = (kt - 1) // 2
  dn = ("NHWC", "HWIO", "NHWC")

  def xla_2d(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), ((pad, pad), (0, 0)), dimension_numbers=dn)

  def conv1d(x, w):
    n, t, v, c = x.shape
    y = lax.conv_general_dilated(jnp.transpose(x, (0, 2, 1, 3)).reshape(n * v, t, c), w[:, 0],
                                 (1,), ((pad, pad),), dimension_numbers=("NWC", "WIO", "NWC"))
    return jnp.transpose(y.reshape(n, v, t, -1), (0, 2, 1, 3))

  def im2col(x, w):
    xp = jnp.pad(x, ((0, 0), (pad, pad), (0, 0), (0, 0)))
    cols = jnp.concatenate([xp[:, k:k + x.shape[1]] for k in range(kt)], -1)
    return cols @ w.reshape(-1, w.shape[-1])

  return {"xla 2d": xla_2d, "conv1d (vjax)": conv1d, "im2col": im2col}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--rows", type=int, default=32, help="clips x persons (ST-GCN: 16 x 2)")
  p.add_argument("--frames", type=int, default=300)
  p.add_argument("--joints", type=int, default=17)
  p.add_argument("--channels", type=int, default=64)
  p.add_argument("--kernel", type=int, default=9)
  p.add_argument("--repeats", type=int, default=3)
  a = p.parse_args(argv)
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(a.rows, a.frames, a.joints, a.channels)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(a.kernel, 1, a.channels, a.channels)) * 0.05, jnp.float32)
  print(f"x {tuple(x.shape)}, kernel {a.kernel}x1, load average {os.getloadavg()[0]:.2f}")
  ref = None
  for name, f in forms(a.kernel).items():
    fwd = jax.jit(f)
    grad = jax.jit(jax.grad(lambda x, w, f=f: (f(x, w) ** 2).mean(), argnums=(0, 1)))
    y = fwd(x, w).block_until_ready()
    jax.block_until_ready(grad(x, w))
    ref = y if ref is None else ref
    tf, tb = [], []
    for _ in range(a.repeats):
      t = time.perf_counter()
      fwd(x, w).block_until_ready()
      tf.append(time.perf_counter() - t)
      t = time.perf_counter()
      jax.block_until_ready(grad(x, w))
      tb.append(time.perf_counter() - t)
    print(f"{name:14s} fwd {min(tf) * 1e3:6.0f} ms   fwd+bwd {min(tb) * 1e3:6.0f} ms   "
          f"max |diff| {float(jnp.abs(y - ref).max()):.1e}")


if __name__ == "__main__":
  main()
