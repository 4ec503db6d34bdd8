"""ST-GCN on BABEL (action segments of AMASS motion capture, 25 NTU-layout joints, one
person), as MMAction2's stgcn_80e_babel60 (``get_config('babel60')``, the default),
stgcn_80e_babel120 (``'babel120'``) and their ``_wfl`` versions (``'babel60_wfl'``,
``'babel120_wfl'``: the class-balanced focal loss ``CBFocalLoss`` over BABEL's long-tailed
class counts). Annotations come from ``python -m vjax.tools.babel2mma2``.

16 epochs over the training set repeated 5 times, SGD (Nesterov, lr 0.1, steps at 10 and 14),
top-k and mean class accuracy after every epoch. ``synthetic`` trains on
``vjax_synthetic_skeleton``'s 3D layout (first person only) on a CPU.
"""

import ml_collections

from vjax.config import (default_config, gcn_pipelines, parse_config_arg, skeleton_gcn,
                         use_pose_annotations, use_synthetic_skeleton)

VARIANTS = ("babel60", "babel120", "babel60_wfl", "babel120_wfl")
# MMAction2's stgcn_80e_babel{60,120}_wfl.py: training samples per class.
SAMPLES_PER_CLS = {
    60: [518, 1993, 6260, 508, 208, 3006, 431, 724, 4527, 2131, 199, 1255, 487, 302, 136, 571,
         267, 646, 1180, 405, 731, 842, 1619, 271, 1198, 1012, 865, 462, 526, 405, 487, 168,
         271, 609, 503, 167, 415, 421, 283, 2069, 715, 196, 989, 122, 599, 396, 245, 380, 236,
         260, 325, 133, 206, 191, 394, 145, 277, 268, 172, 146],
    120: [518, 1993, 6260, 508, 208, 3006, 431, 724, 4527, 2131, 199, 1255, 487, 302, 136,
          571, 267, 646, 1180, 405, 72, 731, 842, 1619, 271, 27, 1198, 1012, 110, 865, 462,
          526, 405, 487, 101, 24, 84, 64, 168, 271, 609, 503, 76, 167, 415, 137, 421, 283,
          2069, 715, 196, 66, 44, 989, 122, 43, 599, 396, 245, 380, 34, 236, 260, 325, 127,
          133, 119, 66, 125, 50, 206, 191, 394, 69, 98, 145, 38, 21, 29, 64, 277, 65, 39, 31,
          35, 85, 54, 80, 133, 66, 39, 64, 268, 34, 172, 54, 33, 21, 110, 19, 40, 55, 146, 39,
          37, 75, 101, 20, 46, 55, 43, 21, 43, 87, 29, 36, 24, 37, 28, 39],
}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, variants=VARIANTS)
  num_classes = 120 if variant.startswith("babel120") else 60
  c = default_config()
  c.data.img_norm_cfg = None
  c.model = skeleton_gcn("STGCN", "ntu-rgb+d", "spatial", num_classes, num_person=1,
                         edge_importance_weighting=True)
  if variant.endswith("_wfl"):
    c.model.cls_head.loss_cls = dict(type="CBFocalLoss",
                                     samples_per_cls=SAMPLES_PER_CLS[num_classes])
  c.evaluation.metrics = ["top_k_accuracy", "mean_class_accuracy"]
  c.evaluation.interval = c.checkpoint_config.interval = 1
  if "synthetic" in flags:
    use_synthetic_skeleton(c, "ntu3d")
    if variant.endswith("_wfl"):  # the synthetic classes are balanced: equal counts
      c.model.cls_head.loss_cls.samples_per_cls = [100] * c.model.cls_head.num_classes
    return c
  use_pose_annotations(c, gcn_pipelines(None, num_person=1),
                       f"data/babel/{variant.split('_')[0]}_train.pkl",
                       f"data/babel/{variant.split('_')[0]}_val.pkl", train_times=5)
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001, nesterov=True)
  c.optimizer_config = dict(grad_clip=None)
  c.lr_config = dict(policy="step", step=[10, 14])
  c.total_epochs = 16
  c.log_config.interval = 100
  return c
