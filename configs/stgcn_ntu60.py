"""ST-GCN on NTU RGB+D 60 (cross-subject), as MMAction2's stgcn_80e_ntu60_xsub_keypoint
(``get_config('2d')``, the default: HRNet's 17 COCO keypoints with scores, PoseNormalize) and
stgcn_80e_ntu60_xsub_keypoint_3d (``get_config('3d')``: the Kinect's 25 3D joints).

Both loop-pad every sample to 300 frames, train 80 epochs with SGD (Nesterov, lr 0.1, steps at
10 and 50) and report top-1/top-5. ``tfds`` reads the PoseC3D releases built by
``python -m vjax.tools.build_dataset posec3d``; ``synthetic`` trains on
``vjax_synthetic_skeleton`` (procedurally animated skeletons whose class is a motion) on a CPU.
"""

import ml_collections

from vjax.config import (default_config, gcn_pipelines, parse_config_arg, skeleton_gcn,
                         use_pose_annotations, use_synthetic_skeleton, use_tfds)

LAYOUTS = {"2d": "coco", "3d": "ntu-rgb+d"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, variants=("2d", "3d"))
  c = default_config()
  c.data.img_norm_cfg = None
  extra = [dict(type="PoseNormalize")] if variant == "2d" else []
  c.model = skeleton_gcn("STGCN", LAYOUTS[variant], "spatial", 60,
                         edge_importance_weighting=True)
  c.evaluation.metrics = ["top_k_accuracy"]
  if "synthetic" in flags:
    use_synthetic_skeleton(c, {"2d": "coco2d", "3d": "ntu3d"}[variant], extra=extra)
    return c
  pipelines = gcn_pipelines(300, extra=extra)
  if "tfds" in flags:  # python -m vjax.tools.build_dataset posec3d
    use_tfds(c, pipelines, "posec3d", builder_config=f"ntu60_xsub_{variant}",
             splits=("train", "val", "val"))
  elif variant == "2d":
    use_pose_annotations(c, pipelines, "data/posec3d/ntu60_xsub_train.pkl",
                         "data/posec3d/ntu60_xsub_val.pkl")
  else:
    root = "data/ntu/nturgb+d_skeletons_60_3d_nmtvc/xsub"
    use_pose_annotations(c, pipelines, f"{root}/train.pkl", f"{root}/val.pkl")
  c.data.videos_per_device = 16 if variant == "2d" else 32
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001, nesterov=True)
  c.optimizer_config = dict(grad_clip=None)
  c.lr_config = dict(policy="step", step=[10, 50])
  c.total_epochs = 80
  interval = 5 if variant == "2d" else 3
  c.evaluation.interval = c.checkpoint_config.interval = interval
  c.log_config.interval = 100
  return c
