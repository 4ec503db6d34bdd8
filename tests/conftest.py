"""Test-wide setup: an 8-device CPU platform (so sharded code paths run), repo on sys.path."""

import os
import sys

# XLA's CPU backend at optimisation level 0: tests of tiny models are compile-bound, and it
# compiles SlowFast R50's train step in 26 s instead of 35 but runs it 1.75x slower
# (benchmarks/xla_flags.py; --xla_llvm_disable_expensive_passes changed neither), so only
# tests and their subprocesses use it, never `make demo` or the trainer.
FAST_COMPILE_XLA_FLAGS = "--xla_backend_optimization_level=0"

# Must happen before jax is imported anywhere: 8 simulated CPU devices, fast compiles.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8 " +
                           FAST_COMPILE_XLA_FLAGS).strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# A persistent compilation cache shared by the xdist workers, the subprocess tests and later
# runs: many tests compile the same model (a config's train step in-process and again in its
# CLI subprocess), and a second run of the suite compiles little at all.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(os.path.expanduser("~"), ".cache", "vjax", "xla-tests"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
