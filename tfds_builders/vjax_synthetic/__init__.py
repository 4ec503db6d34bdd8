"""``vjax_synthetic``: procedural videos whose class is a motion (direction x speed)."""

from tfds_builders.vjax_synthetic.builder import (NAME, PRESETS, VjaxSynthetic,
                                                  VjaxSyntheticConfig, config_name, make_config,
                                                  prepare_synthetic, synthetic_builder)
from tfds_builders.vjax_synthetic.generate import (class_velocity, encode_jpeg, generate_video,
                                                   num_classes)
