"""Builds a synthetic tagging dataset into a TFDS data_dir (ArrayRecord files).

  python -m tfds_builders.vjax_synthetic_tags --data_dir=DIR --task=hvu --preset=small

Any option of ``VjaxSyntheticTagsConfig`` can be overridden, e.g. ``--num_train=300 --seed=1``.
"""

from __future__ import annotations

from tfds_builders.common.cli import synthetic_main
from tfds_builders.vjax_synthetic_tags import builder


def main(argv=None) -> None:
  synthetic_main(__doc__, builder.PRESETS, builder.OPTION_NAMES, builder.prepare_synthetic_tags,
                 argv, float_options=("missing_prob",),
                 choices={"task": ("multilabel", builder.TASKS)})


if __name__ == "__main__":
  main()
