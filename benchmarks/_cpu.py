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
  """(parent pid, utime + stime in seconds) of ``pid``, or None if it is gone."""
  try:
    with open(f'/proc/{pid}/stat', encoding='ascii') as f:
      fields = f.read().rsplit(')', 1)[1].split()
  except (OSError, IndexError):
    return None
  # After the command name: state ppid ... utime (14th field overall) stime (15th).
  return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


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
