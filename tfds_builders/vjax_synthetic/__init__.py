"""``vjax_synthetic``: procedural videos whose class is a motion (direction x speed)."""

from tfds_builders.vjax_synthetic.builder import (NAME, PRESETS, UNDECODED, VjaxSynthetic,
                                                  VjaxSyntheticConfig, build_command, config_name,
                                                  make_config, open_builder, prepare_synthetic,
                                                  results_from_record, synthetic_builder)
from tfds_builders.vjax_synthetic.generate import (class_velocity, encode_jpeg, generate_video,
                                                   num_classes)
