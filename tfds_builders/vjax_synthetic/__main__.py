"""Builds a synthetic dataset into a TFDS data_dir (ArrayRecord files).

  python -m tfds_builders.vjax_synthetic --data_dir=DIR --preset=small

Any option of ``VjaxSyntheticConfig`` can be overridden, e.g. ``--num_train=500 --seed=1``.
"""

from __future__ import annotations

from tfds_builders.common.cli import synthetic_main
from tfds_builders.vjax_synthetic import builder


def main(argv=None) -> None:
  synthetic_main(__doc__, builder.PRESETS, builder.OPTION_NAMES, builder.prepare_synthetic, argv)


if __name__ == "__main__":
  main()
