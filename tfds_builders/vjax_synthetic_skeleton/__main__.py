"""Builds a synthetic skeleton dataset into a TFDS data_dir (ArrayRecord files).

  python -m tfds_builders.vjax_synthetic_skeleton --data_dir=DIR --layout=ntu3d --preset=small

Any option of ``VjaxSyntheticSkeletonConfig`` can be overridden, e.g. ``--num_classes=6``.
"""

from __future__ import annotations

from tfds_builders.common.cli import synthetic_main
from tfds_builders.vjax_synthetic_skeleton import builder


def main(argv=None) -> None:
  synthetic_main(__doc__, builder.PRESETS, builder.OPTION_NAMES,
                 builder.prepare_synthetic_skeleton, argv,
                 choices={"layout": ("coco2d", builder.LAYOUTS)})


if __name__ == "__main__":
  main()
