"""Per-op speed of XLA's CPU 2D convolution against torch's (oneDNN), forward and each gradient.

    .venv/bin/python benchmarks/conv_ops.py    # needs the MMAction2 reference venv's torch

What is left of vjax's CPU train-step gap after ``vjax/models/layers/conv.py``'s rewrites is the
2D convolution kernels themselves; this measures them alone, on ResNet-50 layer shapes at the
train-step benchmark's scale (16 frames of 24/12/6 px), both sides on the same threads, the
sides alternated over rounds (median of rounds, each the median of 5 calls).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = [(16, 24, 64, 64, 1), (16, 12, 128, 128, 1), (16, 6, 256, 256, 1), (16, 24, 128, 128, 2)]


def _median_ms(fn, block=lambda r: r) -> float:
  block(fn())
  times = []
  for _ in range(5):
    t = time.perf_counter()
    block(fn())
    times.append(time.perf_counter() - t)
  return statistics.median(times) * 1e3


def xla_side() -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  from jax import lax  # pylint: disable=g-import-not-at-top
  out = {}
  for n, hw, ci, co, s in SHAPES:
    x = jax.random.normal(jax.random.key(0), (n, hw, hw, ci))
    w = jax.random.normal(jax.random.key(1), (3, 3, ci, co))
    conv = lambda x, w, s=s: lax.conv_general_dilated(  # noqa: E731
        x, w, (s, s), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    g = conv(x, w)
    fwd = jax.jit(conv)
    wgrad = jax.jit(lambda x, g, w: jax.vjp(lambda w: conv(x, w), w)[1](g)[0])
    dgrad = jax.jit(lambda x, g, w: jax.vjp(lambda x: conv(x, w), x)[1](g)[0])
    blk = jax.block_until_ready
    out[str((n, hw, ci, co, s))] = dict(fwd=_median_ms(lambda: fwd(x, w), blk),
                                        wgrad=_median_ms(lambda: wgrad(x, g, w), blk),
                                        dgrad=_median_ms(lambda: dgrad(x, g, w), blk))
  return out


def torch_side() -> dict:
  import torch  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(len(os.sched_getaffinity(0)))
  out = {}
  for n, hw, ci, co, s in SHAPES:
    x = torch.randn(n, ci, hw, hw, requires_grad=True)
    w = torch.randn(co, ci, 3, 3, requires_grad=True)
    conv = lambda: torch.nn.functional.conv2d(x, w, stride=s, padding=1)  # noqa: E731
    g = torch.randn_like(conv())
    with torch.no_grad():
      fwd = _median_ms(conv)
    y = conv()
    # The gradients alone, from a graph kept between calls (as a train step's backward).
    wgrad = _median_ms(lambda: torch.autograd.grad(y, (w,), g, retain_graph=True))
    dgrad = _median_ms(lambda: torch.autograd.grad(y, (x,), g, retain_graph=True))
    out[str((n, hw, ci, co, s))] = dict(fwd=fwd, wgrad=wgrad, dgrad=dgrad)
  return out


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--ref-python", default="/work/mmaction2-ref-venv/bin/python")
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--side", choices=("xla", "torch"), help=argparse.SUPPRESS)
  args = p.parse_args()
  if args.side:
    print(json.dumps(xla_side() if args.side == "xla" else torch_side()))
    return
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import _cpu  # pylint: disable=g-import-not-at-top
  print(f"load average {_cpu.wait_until_idle(len(os.sched_getaffinity(0)), 300):.2f} at start")
  runs = {"xla": [], "torch": []}
  for r in range(args.rounds):
    for side in (("xla", "torch") if r % 2 == 0 else ("torch", "xla")):
      py = sys.executable if side == "xla" else args.ref_python
      res = subprocess.run([py, __file__, "--side", side], capture_output=True, text=True,
                           check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
      runs[side].append(json.loads(res.stdout.strip().splitlines()[-1]))
  print(f"{'shape (N, HW, Cin, Cout, stride)':34s} {'op':6s} {'XLA ms':>8s} {'torch ms':>9s} "
        f"{'XLA/torch':>9s}")
  for shape in runs["xla"][0]:
    for op in ("fwd", "wgrad", "dgrad"):
      a = statistics.median(r[shape][op] for r in runs["xla"])
      b = statistics.median(r[shape][op] for r in runs["torch"])
      print(f"{shape:34s} {op:6s} {a:8.1f} {b:9.1f} {a / b:8.2f}x")
  print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
  main()
