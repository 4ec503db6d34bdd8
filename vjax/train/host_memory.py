"""glibc malloc settings that keep XLA's CPU buffers mapped from one step to the next.

On the CPU backend every jitted step allocates its temporaries afresh and frees them at the
end. With glibc's defaults the large ones are fresh ``mmap``s, and the middle-sized ones live
in per-thread heaps that are unmapped once empty, so each step faults every page in again and
the kernel zeroes it: a 2s-AGCN train step at batch 12 (benchmarks/train_step.py, agcn_3d)
took 1.9 million page faults, 7.4 s of system time out of 30 s of CPU, and 16.3 s of wall
time; with ``MALLOC_ENV`` no faults, 0.2 s of system time and 14.3 s.

``MALLOC_ENV`` puts every allocation on the main heap (one arena, no ``mmap``) and never gives
freed memory back, so the process stays at its peak footprint. glibc reads these variables
when a process starts and fixes the arena limit once threads exist, so ``reexec_for_cpu``
restarts the process with them set, before anything else runs. Accelerator runs keep the
defaults: their host holds only the input pipeline, whose threads the single arena would
serialise.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from typing import Mapping

MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
              "MALLOC_TRIM_THRESHOLD_": str(1 << 46)}
# PJRT plugins that give JAX an accelerator backend when installed.
ACCELERATOR_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
                       "jax_rocm7_plugin", "libtpu", "jax_plugins.xla_cuda12")
OPT_OUT = "VJAX_KEEP_MALLOC"


def cpu_backend_expected(environ: Mapping[str, str], plugins_present: bool) -> bool:
  """Whether JAX will compute on the CPU: ``JAX_PLATFORMS`` names it first, or it is unset
  and no accelerator plugin is installed."""
  platforms = [p.strip() for p in environ.get("JAX_PLATFORMS", "").split(",") if p.strip()]
  if platforms:
    return platforms[0] == "cpu"
  return not plugins_present


def malloc_env(environ: Mapping[str, str], plugins_present: bool,
               libc: str = "glibc") -> dict[str, str] | None:
  """The environment to restart with, or None to run as is: not glibc, not the CPU backend,
  ``VJAX_KEEP_MALLOC`` set, or any ``MALLOC_*`` variable already chosen by the user (or by
  an earlier restart)."""
  if libc != "glibc" or environ.get(OPT_OUT) or any(k in environ for k in MALLOC_ENV):
    return None
  if not cpu_backend_expected(environ, plugins_present):
    return None
  return dict(environ, **MALLOC_ENV)


def _plugins_present() -> bool:
  for name in ACCELERATOR_PLUGINS:
    try:
      if importlib.util.find_spec(name) is not None:
        return True
    except (ImportError, ValueError):
      continue
  return False


def reexec_for_cpu() -> None:
  """Restarts this Python process (same interpreter, options and arguments) with
  ``MALLOC_ENV`` when ``malloc_env`` says so; returns only when it does not."""
  if sys.platform != "linux":
    return
  env = malloc_env(os.environ, _plugins_present(), platform.libc_ver()[0])
  if env is None:
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, list(sys.orig_argv), env)
