"""Test-wide setup: an 8-device CPU platform (so sharded code paths run), repo on sys.path."""

import os
import sys

# Must happen before jax is imported anywhere: 8 simulated CPU devices, and cheap XLA CPU
# compilation (tiny test models spend most of their time compiling; measured 3-6x faster
# to compile at these settings, with no slower steps).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8"
                           " --xla_backend_optimization_level=0"
                           " --xla_llvm_disable_expensive_passes=true").strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
