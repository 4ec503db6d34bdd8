"""``posec3d``: the skeleton annotation releases of PoseC3D / MMAction2 (NTU RGB+D 60 / 120 in
2D and 3D, FineGYM, UCF101, HMDB51, Kinetics-400, BABEL) from a manual download."""

from tfds_builders.posec3d.records import (COCO2D, LAYOUTS, NTU3D, UNDECODED, Layout,
                                           SkeletonBuilder, class_counts, features, make_record,
                                           results_from_record)
from tfds_builders.posec3d.posec3d_dataset_builder import CONFIGS, Posec3d, PoseC3DConfig
