"""The command line every synthetic builder package shares (``python -m
tfds_builders.<name> --data_dir=DIR --preset=small --<option>=...``)."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Sequence


def synthetic_main(doc: str, presets, option_names: Sequence[str],
                   prepare: Callable[..., Any], argv=None,
                   float_options: Sequence[str] = (), choices: dict | None = None) -> None:
  """Parses ``--data_dir``, ``--preset``, one flag per config option (int, or float for
  ``float_options``) and ``choices`` (``{name: (default, allowed)}``, passed to ``prepare``
  after the data dir), then builds (or finds) the dataset and prints where it is."""
  parser = argparse.ArgumentParser(description=doc)
  parser.add_argument("--data_dir", default=None, help="TFDS data_dir (default: TFDS default).")
  for name, (default, allowed) in (choices or {}).items():
    parser.add_argument(f"--{name}", default=default, choices=allowed)
  parser.add_argument("--preset", default=None, choices=sorted(presets))
  for name in option_names:
    parser.add_argument(f"--{name}", type=float if name in float_options else int, default=None)
  args = parser.parse_args(argv)
  options = {k: getattr(args, k) for k in option_names if getattr(args, k) is not None}
  chosen = [getattr(args, k) for k in (choices or {})]
  b = prepare(args.data_dir, *chosen, args.preset, **options)
  print(f"Prepared {b.name}/{b.builder_config.name} in {b.data_dir}: {b.info.splits}")
