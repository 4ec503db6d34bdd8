"""``vjax_synthetic_tags``: procedural videos tagged with the shapes, colours and background
they show; a 'multilabel' (MMiT-style) and an 'hvu' (tag categories) task."""

from tfds_builders.vjax_synthetic_tags.builder import (BUILDER_CONFIG_NAMES, NAME, PRESETS, TASKS,
                                                       UNDECODED, VjaxSyntheticTags,
                                                       VjaxSyntheticTagsConfig, build_command,
                                                       config_name, example_label, example_seed,
                                                       make_config, open_builder,
                                                       prepare_synthetic_tags, results_from_record,
                                                       tags_builder)
from tfds_builders.vjax_synthetic_tags.generate import (COLOUR_NAMES, HVU_CATEGORIES,
                                                        HVU_CATEGORY_NUMS, KINDS, SCENES,
                                                        VideoSpec, generate_video, hvu_annotated,
                                                        hvu_tags, tag_names)
