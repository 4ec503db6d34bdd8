"""``vjax_synthetic_skeleton``: procedurally animated skeletons whose class is a motion, in the
PoseC3D pickles' record layout ('coco2d' 2D keypoints with scores, 'ntu3d' 3D joints); built
on first use."""

from tfds_builders.vjax_synthetic_skeleton.builder import (
    BUILDER_CONFIG_NAMES, LAYOUTS, NAME, OPTION_NAMES, PRESETS, SPLITS, UNDECODED,
    VjaxSyntheticSkeleton, VjaxSyntheticSkeletonConfig, build_command, class_counts,
    config_name, example_label, example_seed, frame_dir, generate_annotation, make_config,
    open_builder, prepare_synthetic_skeleton, results_from_record, skeleton_builder)
from tfds_builders.vjax_synthetic_skeleton.generate import (CLASSES, COCO_KEYPOINTS, IMG_SHAPE,
                                                            MAX_CLASSES, NTU_JOINTS, VideoSpec,
                                                            class_names, generate_video)
