"""2s-AGCN on NTU RGB+D 60 (cross-subject, 3D joints), as MMAction2's
2sagcn_80e_ntu60_xsub_keypoint_3d (``get_config('joint')``, the default) and
2sagcn_80e_ntu60_xsub_bone_3d (``'bone'``: JointToBone), plus the motion streams of the
four-stream practice (``'joint_motion'``, ``'bone_motion'``: frame-to-frame differences, as
MMAction2 1.x's and pyskl's ``GenSkeFeat``).

Train each stream on its own, test each with ``--mode=test --config.test.out=S.pkl``, then fuse:

    python -m vjax.tools.report_accuracy --scores joint.pkl bone.pkl jm.pkl bm.pkl \\
        --coefficients 2 2 1 1 --datalist data/ntu/nturgb+d_skeletons_60_3d/xsub/val.pkl

``synthetic`` trains on ``vjax_synthetic_skeleton``'s 3D layout on a CPU.
"""

import ml_collections

from vjax.config import (default_config, gcn_pipelines, parse_config_arg, skeleton_gcn,
                         use_pose_annotations, use_synthetic_skeleton, use_tfds)

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")


def stream_ops(stream: str) -> list[dict]:
  """The ops before FormatGCNInput that turn joints into the stream's input."""
  ops = [dict(type="JointToBone")] if stream.startswith("bone") else []
  if stream.endswith("motion"):
    ops.append(dict(type="ToMotion"))
  return ops


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  stream, flags = parse_config_arg(arg, variants=STREAMS)
  c = default_config()
  c.data.img_norm_cfg = None
  c.model = skeleton_gcn("AGCN", "ntu-rgb+d", "agcn", 60)
  c.evaluation.metrics = ["top_k_accuracy"]
  if "synthetic" in flags:
    use_synthetic_skeleton(c, "ntu3d", stream_ops(stream))
    return c
  pipelines = gcn_pipelines(300, stream_ops(stream))
  if "tfds" in flags:  # python -m vjax.tools.build_dataset posec3d
    use_tfds(c, pipelines, "posec3d", builder_config="ntu60_xsub_3d",
             splits=("train", "val", "val"))
  else:
    root = "data/ntu/nturgb+d_skeletons_60_3d/xsub"
    use_pose_annotations(c, pipelines, f"{root}/train.pkl", f"{root}/val.pkl")
  c.data.videos_per_device = 12
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001, nesterov=True)
  c.optimizer_config = dict(grad_clip=None)
  c.lr_config = dict(policy="step", step=[30, 40])
  c.total_epochs = 80
  c.evaluation.interval = c.checkpoint_config.interval = 3
  c.log_config.interval = 100
  return c
