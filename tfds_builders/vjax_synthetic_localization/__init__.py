"""``vjax_synthetic_localization``: untrimmed feature sequences with planted actions of known
class, start and end, in ActivityNet's record layout; built on first use."""

from tfds_builders.vjax_synthetic_localization.builder import (
    BUILDER_CONFIG_NAMES, NAME, OPTION_NAMES, PRESETS, SPLITS, UNDECODED,
    VjaxSyntheticLocalization, VjaxSyntheticLocalizationConfig, build_command, config_name,
    example_seed, localization_builder, make_config, open_builder,
    prepare_synthetic_localization, results_from_record, video_infos, video_name)
from tfds_builders.vjax_synthetic_localization.generate import (VideoSpec, class_names,
                                                                generate_video, patterns,
                                                                video_info)
