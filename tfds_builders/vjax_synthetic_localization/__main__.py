"""Builds a synthetic localization dataset into a TFDS data_dir (ArrayRecord files).

  python -m tfds_builders.vjax_synthetic_localization --data_dir=DIR --preset=small

Any option of ``VjaxSyntheticLocalizationConfig`` can be overridden, e.g. ``--feat_dim=64``.
"""

from __future__ import annotations

from tfds_builders.common.cli import synthetic_main
from tfds_builders.vjax_synthetic_localization import builder


def main(argv=None) -> None:
  synthetic_main(__doc__, builder.PRESETS, builder.OPTION_NAMES, builder.prepare_synthetic_localization, argv)


if __name__ == "__main__":
  main()
