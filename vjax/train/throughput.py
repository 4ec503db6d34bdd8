"""Speed and memory figures the trainer logs: clips/s per device, MFU from the compiled step's
cost analysis against the device's dense peak, host and device memory in use."""

from __future__ import annotations

import resource
from typing import Any

import jax

# Dense peak FLOP/s by device kind (first substring match wins): (bfloat16, float32). The GPU
# float32 figure is the TF32 tensor-core peak: at jax's default matmul precision XLA runs
# float32 convolutions and matmuls in TF32 there; TPUs run them as bfloat16 passes.
PEAK_FLOPS = (
    ("TPU v6 lite", (918e12, 918e12)),  # v6e (Trillium)
    ("TPU v5 lite", (197e12, 197e12)),  # v5e
    ("TPU v5", (459e12, 459e12)),  # v5p
    ("TPU v4", (275e12, 275e12)),
    ("H100 PCIe", (756e12, 378e12)),
    ("H100", (989e12, 494.7e12)),  # SXM
    ("H200", (989e12, 494.7e12)),
    ("A100", (312e12, 156e12)),
)


def peak_flops(device_kind: str, dtype: str) -> float | None:
  """The device's dense peak FLOP/s for ``dtype``, or None for a device not in the table."""
  for key, (bf16, fp32) in PEAK_FLOPS:
    if key.lower() in device_kind.lower():
      return bf16 if dtype in ("bfloat16", "float16") else fp32
  return None


def step_flops(compiled) -> float | None:
  """FLOPs of one call of a compiled (AOT) function per device, from XLA's cost analysis."""
  try:
    cost = compiled.cost_analysis()
  except Exception:  # pylint: disable=broad-except  # some backends have none
    return None
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  flops = (cost or {}).get("flops")
  return float(flops) if flops and flops > 0 else None


def figures(step_time: float, global_batch: int, flops: float | None, dtype: str) -> dict:
  """``clips_per_s_per_device``, ``mfu`` (where the peak is known), ``host_mem_gb`` (peak
  RSS of this process) and ``device_mem_gb`` (bytes in use on device 0, where reported)."""
  device = jax.local_devices()[0]
  out: dict[str, Any] = {
      "clips_per_s_per_device": global_batch / max(step_time, 1e-9) / jax.device_count(),
      "host_mem_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
  }
  peak = peak_flops(device.device_kind, dtype)
  if flops and peak:
    out["mfu"] = flops / max(step_time, 1e-9) / peak
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and "bytes_in_use" in stats:
    out["device_mem_gb"] = stats["bytes_in_use"] / 2**30
  return out
