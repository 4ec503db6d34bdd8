"""CPU seconds used by a process and all its descendants (Linux /proc), for per-clip costs.

Wall-clock clips/s on a shared or oversubscribed VM swings with whatever else runs; CPU time
per clip of the whole loader (main process plus worker processes) is what the loader costs,
and at equal cores the throughput ratio of two CPU-bound loaders is the inverse of that ratio.
Shared by input_pipeline.py and the MMAction2 runner (which must not import vjax).
"""

from __future__ import annotations

import os

_TICK = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


def _stat(pid: int) -> tuple[int, float] | None:
  """(parent pid, CPU seconds) of ``pid``, or None if it is gone. The CPU seconds are its own
  (utime + stime) and those of its children that have exited and been waited for (cutime +
  cstime), so a worker that ends between two readings keeps counting."""
  try:
    with open(f'/proc/{pid}/stat', encoding='ascii') as f:
      fields = f.read().rsplit(')', 1)[1].split()
  except (OSError, IndexError):
    return None
  # After the command name: state ppid ... utime (14th field overall) stime cutime cstime.
  return int(fields[1]), sum(int(v) for v in fields[11:15]) / _TICK


def tree_cpu_seconds(root: int | None = None) -> float | None:
  """User + system CPU seconds of ``root`` (default: this process) and its live descendants;
  None where /proc is not available."""
  root = os.getpid() if root is None else root
  if not os.path.exists(f'/proc/{root}/stat'):
    return None
  stats = {}
  for name in os.listdir('/proc'):
    if name.isdigit():
      s = _stat(int(name))
      if s is not None:
        stats[int(name)] = s
  children: dict[int, list[int]] = {}
  for pid, (ppid, _) in stats.items():
    children.setdefault(ppid, []).append(pid)
  total, todo = 0.0, [root]
  while todo:
    pid = todo.pop()
    if pid in stats:
      total += stats[pid][1]
    todo.extend(children.get(pid, ()))
  return total


# ----------------------------------------------------------------- is the machine quiet?
# A figure counts only when taken on an otherwise idle machine: the 1-minute load average
# below this share of the cores before starting, and, while measuring, little CPU used by
# processes outside the benchmark and little hypervisor steal.
IDLE_LOAD_PER_CORE = 0.75
MAX_FOREIGN_CORES = 0.15  # CPU-seconds per second used by other processes during a block
MAX_STEAL = 0.05  # share of the CPU time the hypervisor took


def system_cpu_seconds() -> tuple[float, float, float] | None:
  """(busy, steal, total) CPU seconds over all cores since boot, from /proc/stat."""
  try:
    with open('/proc/stat', encoding='ascii') as f:
      fields = [int(v) for v in f.readline().split()[1:]]
  except (OSError, ValueError):
    return None
  user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
  busy = user + nice + system + irq + softirq
  return busy / _TICK, steal / _TICK, (busy + idle + iowait + steal) / _TICK


def wait_until_idle(cores: int, timeout_s: float, poll_s: float = 10.0) -> float:
  """Waits (up to ``timeout_s``) for the 1-minute load average to drop below
  ``IDLE_LOAD_PER_CORE * cores``; returns the last load average read."""
  import time  # pylint: disable=g-import-not-at-top
  deadline = time.monotonic() + timeout_s
  load = os.getloadavg()[0]
  while load >= IDLE_LOAD_PER_CORE * cores and time.monotonic() < deadline:
    time.sleep(poll_s)
    load = os.getloadavg()[0]
  return load


class Quiet:
  """Context manager around one timed block: how much CPU other processes and the hypervisor
  took meanwhile. ``busy`` says whether the block's figure should not count."""

  def __init__(self, root: int | None = None):
    self.root = os.getpid() if root is None else root
    self.foreign_cores = self.steal = 0.0
    self.busy = False

  def __enter__(self):
    import time  # pylint: disable=g-import-not-at-top
    self._t0, self._sys0 = time.perf_counter(), system_cpu_seconds()
    self._own0 = tree_cpu_seconds(self.root)
    return self

  def __exit__(self, *exc):
    import time  # pylint: disable=g-import-not-at-top
    wall = time.perf_counter() - self._t0
    sys1, own1 = system_cpu_seconds(), tree_cpu_seconds(self.root)
    if None in (self._sys0, sys1, self._own0, own1) or wall <= 0:
      return False
    busy = sys1[0] - self._sys0[0]
    total = sys1[2] - self._sys0[2]
    self.foreign_cores = max(0.0, (busy - (own1 - self._own0)) / wall)
    self.steal = (sys1[1] - self._sys0[1]) / total if total > 0 else 0.0
    self.busy = self.foreign_cores > MAX_FOREIGN_CORES or self.steal > MAX_STEAL
    return False
