"""The speed figures the trainer logs: the peak table, XLA's FLOP count of a compiled step,
and the per-interval figures."""

import jax
import jax.numpy as jnp
import pytest

from vjax.train import throughput


def test_peak_table_matches_device_kinds():
  assert throughput.peak_flops("TPU v5 lite", "bfloat16") == 197e12  # v5e, not v5p
  assert throughput.peak_flops("TPU v5", "bfloat16") == 459e12
  assert throughput.peak_flops("NVIDIA H100 80GB HBM3", "bfloat16") == 989e12
  assert throughput.peak_flops("NVIDIA H100 PCIe", "float32") == 378e12
  assert throughput.peak_flops("cpu", "float32") is None


def test_step_flops_counts_a_matmul_and_mfu_follows():
  x = jnp.ones((64, 32), jnp.float32)
  w = jnp.ones((32, 16), jnp.float32)
  compiled = jax.jit(lambda a, b: a @ b).lower(x, w).compile()
  flops = throughput.step_flops(compiled)
  assert flops == pytest.approx(2 * 64 * 32 * 16, rel=0.05)  # multiply-adds, counted twice
  out = throughput.figures(step_time=0.5, global_batch=16, flops=flops, dtype="float32")
  assert out["clips_per_s_per_device"] == pytest.approx(16 / 0.5 / jax.device_count())
  assert out["host_mem_gb"] > 0.05
  assert "mfu" not in out  # a CPU has no entry in the peak table
