"""ST-GCN++ on NTU RGB+D 60 (cross-subject, HRNet's 17 COCO keypoints with scores), as
MMAction2 1.x's stgcnpp_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.

Its 1.x pipeline on vjax's ops: ``PreNormalize2D`` (x, y to [-1, 1] of a 1920x1080 frame) is
``PoseNormalize(mean=(960, 540, 0), max_value=(960, 540, 1))`` after ``FormatGCNInput`` (NTU's
videos are all 1920x1080); ``GenSkeFeat(feats=['j'])`` only appends the scores, which
``FormatGCNInput`` does; ``UniformSampleFrames(clip_len=100)``. Training repeats the split 5
times per epoch for 16 epochs (the "80e"), SGD Nesterov lr 0.1, weight decay 5e-4, cosine
decay per iteration to 0. 1.x tests 10 clips per video and averages their scores; vjax's
SkeletonGCN scores one clip, so test uses one (as val does). The head is 1.x's ``GCNHead``
(Linear ``fc``, test scores softmaxed), so a 1.x checkpoint imports whole.

Data: pyskl's ``ntu60_2d.pkl`` (one file, splits 'xsub_train' / 'xsub_val').
``synthetic`` trains on ``vjax_synthetic_skeleton``'s coco2d layout on a CPU.
"""

import ml_collections

from vjax.config import (default_config, gcn_pipelines, parse_config_arg,
                         use_synthetic_skeleton)

ANN_FILE = "data/skeleton/ntu60_2d.pkl"
# 1.x's PreNormalize2D: pixel (x, y) -> [-1, 1] of a 1920 x 1080 frame.
NORMALIZE = dict(type="PoseNormalize", mean=(960., 540., 0.), min_value=(0., 0., 0.),
                 max_value=(960., 540., 1.))


def stgcnpp_model(num_classes: int) -> dict:
  return dict(
      type="SkeletonGCN",
      backbone=dict(type="STGCNPlusPlus", graph_cfg=dict(layout="coco", mode="spatial"),
                    in_channels=3, gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn"),
      cls_head=dict(type="GCNHead", num_classes=num_classes, in_channels=256,
                    loss_cls=dict(type="CrossEntropyLoss")),
      train_cfg=None, test_cfg=None)


def pipelines(clip_len: int = 100):
  """(train, val, test): uniform sampling, decode, FormatGCNInput, PreNormalize2D."""
  return gcn_pipelines(clip_len, extra=[NORMALIZE], uniform=True)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg, variants=("2d",), flags=("synthetic",))
  c = default_config()
  c.data.img_norm_cfg = None
  c.model = stgcnpp_model(60)
  c.evaluation.metrics = ["top_k_accuracy"]
  if "synthetic" in flags:
    use_synthetic_skeleton(c, "coco2d", extra=[NORMALIZE])
    return c
  train, val, test = pipelines()
  ds = dict(type="PoseDataset", ann_file=ANN_FILE, data_prefix="")
  c.data.train = dict(type="RepeatDataset", times=5, dataset=dict(ds, split="xsub_train"),
                      pipeline=train)
  c.data.val = dict(ds, split="xsub_val", pipeline=val)
  c.data.test = dict(ds, split="xsub_val", pipeline=test)
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0005, nesterov=True)
  c.optimizer_config = dict(grad_clip=None)
  c.lr_config = dict(policy="CosineAnnealing", by_epoch=False, min_lr=0)
  c.total_epochs = 16
  c.evaluation.interval = c.checkpoint_config.interval = 1
  c.log_config.interval = 100
  return c
