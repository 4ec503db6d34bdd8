"""Builds a synthetic localization dataset into a TFDS data_dir (ArrayRecord files).

  python -m tfds_builders.vjax_synthetic_localization --data_dir=DIR --preset=small

Any option of ``VjaxSyntheticLocalizationConfig`` can be overridden, e.g. ``--feat_dim=64``.
"""

from __future__ import annotations

import argparse

from tfds_builders.vjax_synthetic_localization import builder


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--data_dir", default=None, help="TFDS data_dir (default: TFDS default).")
  parser.add_argument("--preset", default=None, choices=sorted(builder.PRESETS))
  for name in builder.OPTION_NAMES:
    parser.add_argument(f"--{name}", type=int, default=None)
  args = parser.parse_args(argv)
  options = {k: getattr(args, k) for k in builder.OPTION_NAMES
             if getattr(args, k) is not None}
  b = builder.prepare_synthetic_localization(args.data_dir, args.preset, **options)
  print(f"Prepared {b.name}/{b.builder_config.name} in {b.data_dir}: {b.info.splits}")


if __name__ == "__main__":
  main()
