"""Config defaults and checks shared by every experiment config.

Experiment files in ``configs/`` start from ``default_config()`` and fill in the model and
data with MMAction2's key names (``model``, ``data``, ``optimizer``, ``optimizer_config``,
``lr_config``, ``total_epochs``, ``evaluation``, ``checkpoint_config``, ``log_config``), so
an MMAction2 config maps onto them field by field.
"""

from __future__ import annotations

import difflib
from typing import Iterable, NamedTuple, Sequence

import ml_collections


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  # The task (vjax.tasks): '' infers it from the model type (recognition, multilabel, ...).
  c.task = ""
  # Mesh axes; -1 fills the remaining devices. The batch is sharded over data and fsdp.
  c.mesh = (("data", -1), ("fsdp", 1), ("model", 1))
  # Multi-slice TPU pods: how many slices each mesh axis spans, e.g. (("data", 2),).
  c.mesh_dcn = ()
  # Parameter placement (vjax.train.sharding): ordered (regex over the parameter path,
  # tactics); 'logical' follows sharding_rules, 'fsdp' shards the largest divisible dimension
  # over the fsdp axis. With fsdp=1 and model=1 (the default mesh) everything is replicated.
  c.param_sharding = ((".*", "logical+fsdp(min_size_mb=1)"),)
  # Logical axis -> mesh axis for model parallelism (parameters and the activations that
  # TimeSformer's attention heads and MLP constrain); None = replicated.
  c.sharding_rules = (("conv_in", None), ("conv_out", None), ("norm", None), ("embed", None),
                      ("classes", None), ("mlp", "model"), ("heads", "model"), ("qkv", "model"))
  # 'sync': BatchNorm statistics over the global batch; 'per_device': MMAction2's per-GPU BN.
  c.bn_stats = "sync"
  # Compute dtype of convolutions and matmuls: 'float32', 'bfloat16' or 'float16' (with
  # fp16.loss_scale); parameters, gradients, BatchNorm, softmax and the loss stay float32.
  c.dtype = "float32"
  # MMAction2's fp16=dict(loss_scale=...): '' is off; a number is a static scale, 'dynamic'
  # or a dict a dynamic one (vjax.train.precision). On, the compute dtype is float16. Typed
  # `object` so that --config.fp16.loss_scale= takes any of them whatever a config set.
  c.fp16 = dict(loss_scale=ml_collections.FieldReference("", field_type=object))
  c.model = ml_collections.ConfigDict()
  c.data = ml_collections.ConfigDict(dict(
      videos_per_device=8,
      test_videos_per_device=1,
      workers=2,
      # Bad samples (missing/corrupt files, decoder errors): 'raise' stops with the file's
      # name; 'skip' loads the next sample instead and counts and logs the skipped files.
      on_error="raise",
      img_norm_cfg=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                        to_bgr=False),
      # OmniSource (omnisource=True): each data.train source's videos per device (default
      # videos_per_device for all), and MMAction2's train_ratio [n0, n1, ...]: every n0
      # iterations, n_k batches of auxiliary source k (default all 1).
      omni_videos_per_device=None,
      train_ratio=None,
  ))
  # MMAction2's OmniSource joint training: data.train is a list of datasets (the main one
  # first, its length defines the epoch), each batch of each source its own optimizer step,
  # logged with a source suffix (train/loss/aux0). See vjax.train.omnisource.
  c.omnisource = False
  c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  # Linear scaling of lr with the global batch relative to base_batch_size (off by default).
  c.auto_scale_lr = dict(enable=False, base_batch_size=64)
  c.lr_config = ml_collections.ConfigDict(dict(policy="step", step=[40, 80]), type_safe=False)
  c.total_epochs = 100
  # start: first epoch evaluated (0 = from the first), then every interval (mmcv's EvalHook).
  c.evaluation = dict(interval=5, start=0, metrics=["top_k_accuracy", "mean_class_accuracy"],
                      metric_options=dict(top_k_accuracy=dict(topk=(1, 5))),
                      save_best="top1_acc", rule="greater")
  # interval in epochs (by_epoch=False: in iterations); save_every_minutes > 0 also saves on
  # a wall-clock period, for preemptible machines. Saves are asynchronous.
  c.checkpoint_config = dict(interval=1, max_to_keep=3, by_epoch=True, save_every_minutes=0.0)
  c.log_config = dict(interval=20)
  # Multigrid training (vjax.train.multigrid): MMAction2's multigrid=dict(long_cycle=...,
  # short_cycle=..., epoch_factor=..., long_cycle_factors=..., short_cycle_factors=...,
  # default_s=...); None trains at the pipeline's one shape.
  c.multigrid = None
  # MMAction2's workflow: [('train', n), ('val', 1)] also logs the loss of data.val in eval
  # mode (val/loss, no update) after every n training epochs and the last one.
  c.workflow = (("train", 1),)
  # MMAction2's PreciseBN: every `interval` epochs, before evaluation, BN running statistics
  # become the mean of num_iters training batches' own statistics; num_iters=0 is off.
  c.precise_bn = dict(num_iters=0, interval=1)
  # A step whose loss or gradients are NaN/inf: 'raise' stops and names the step; 'skip'
  # leaves its update out (params, optimizer state, BN statistics unchanged), counts it and
  # logs the count (train/skipped_steps).
  c.nonfinite = "raise"
  c.load_from = ""  # weights only
  c.resume_from = ""  # another run's checkpoint step directory: the whole train state
  c.test = dict(out="")
  return c


def use_synthetic(c: ml_collections.ConfigDict, pipelines, preset: str = "small",
                  name: str = "vjax_synthetic", builder_config=None, videos_per_device: int = 8,
                  test_videos_per_device: int = 4, val_split: str = "validation") -> None:
  """Points data.train/val/test at a built-in synthetic TFDS dataset (``name``, built on
  first use in the TFDS data_dir; ``builder_config`` defaults to ``dict(preset=preset)``)
  with CPU-sized batches; ``pipelines`` = (train, val, test); val and test read
  ``val_split`` (the skeleton builders name it 'val', as the PoseC3D releases)."""
  train, val, test = pipelines
  ds = dict(type="TFDSDataset", name=name, data_dir="", prepare=True,
            builder_config=builder_config or dict(preset=preset))
  c.data.train = dict(ds, split="train", pipeline=train)
  c.data.val = dict(ds, split=val_split, pipeline=val)
  c.data.test = dict(ds, split=val_split, pipeline=test)
  c.data.videos_per_device = videos_per_device
  c.data.test_videos_per_device = test_videos_per_device
  c.data.workers = 0


def synthetic_schedule(c: ml_collections.ConfigDict, epochs: int = 4, eval_interval: int = 2,
                       lr: float = 0.001, **optimizer) -> None:
  """The CPU schedule of the ``synthetic`` variants: AdamW (``optimizer`` adds keys such as a
  ``constructor``), cosine decay after one linear warm-up epoch. From scratch at batch 8 it
  learns steadily where the full recipes' SGD diverged or drifted."""
  c.optimizer = dict(type="AdamW", lr=lr, weight_decay=0.0001, **optimizer)
  c.lr_config = dict(policy="CosineAnnealing", min_lr=0, warmup="linear", warmup_by_epoch=True,
                     warmup_iters=1)
  c.total_epochs = epochs
  c.evaluation.interval = eval_interval
  c.log_config.interval = 10


def synthetic_flip_label_map(num_directions: int = 4, num_speeds: int = 2) -> dict[int, int]:
  """``Flip(flip_label_map=...)`` for ``vjax_synthetic``: a horizontal flip mirrors the motion
  (angle a -> pi - a), so rightward classes become leftward ones and vertical ones stay."""
  if num_directions % 2:
    raise ValueError(f"with {num_directions} directions a mirrored motion is not a class; "
                     "use an even num_directions or drop Flip")
  out = {}
  for d in range(num_directions):
    mirrored = (num_directions // 2 - d) % num_directions
    for s in range(num_speeds):
      if mirrored != d:
        out[d * num_speeds + s] = mirrored * num_speeds + s
  return out


# ImageNet mean/std in RGB, 0..255: the img_norm_cfg of most MMAction2 configs.
IMAGENET_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)


def format_ops(input_format: str) -> list[dict]:
  """The FormatShape + Collect tail every recognition pipeline ends with."""
  return [dict(type="FormatShape", input_format=input_format),
          dict(type="Collect", keys=["imgs", "label"], meta_keys=[])]


def flip_op(flip_label_map=None) -> dict:
  """``Flip(flip_ratio=0.5)``, with a label map when flipping changes the class."""
  flip = dict(type="Flip", flip_ratio=0.5)
  if flip_label_map:
    flip["flip_label_map"] = flip_label_map
  return flip


def clip_pipelines(decode, clip_len, frame_interval, short_side=256, crop=224, test_clips=10,
                   area_range=None, flip_label_map=None):
  """(train, val, test) of MMAction2's 3D Kinetics recipes (SlowOnly, CSN, R(2+1)D, ...):
  RandomResizedCrop + Flip for training, a centre crop for val, ``test_clips`` clips x
  ThreeCrop at test; Normalize runs on device."""
  sample = dict(type="SampleFrames", clip_len=clip_len, frame_interval=frame_interval)
  resize = dict(type="Resize", scale=(-1, short_side))
  rrc = dict(type="RandomResizedCrop")
  if area_range:
    rrc["area_range"] = area_range
  train = [dict(sample, num_clips=1), decode, resize, rrc,
           dict(type="Resize", scale=(crop, crop), keep_ratio=False), flip_op(flip_label_map)]
  val = [dict(sample, num_clips=1, test_mode=True), decode, resize,
         dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode, resize,
          dict(type="ThreeCrop", crop_size=short_side)]
  fmt = format_ops("NCTHW")
  return train + fmt, val + fmt, test + fmt


def segment_pipelines(decode, sample, *, short_side=256, crop=224, flip=True,
                      flip_label_map=None, num_fixed_crops=13, val_sample=None,
                      test_sample=None, three_crop_test=True):
  """(train, val, test) of MMAction2's TSM-family recipes (TSM, TIN, TRN, TANet): resize the
  short side, MultiScaleCrop + resize to ``crop`` (+ Flip) for training, a centre crop for
  val, a ThreeCrop of the short side for test (else the val pipeline). ``val_sample`` /
  ``test_sample`` default to ``sample`` in test mode; ``num_fixed_crops=None`` keeps
  MultiScaleCrop's default."""
  resize = dict(type="Resize", scale=(-1, short_side))
  msc = dict(type="MultiScaleCrop", input_size=crop, scales=(1, 0.875, 0.75, 0.66),
             random_crop=False, max_wh_scale_gap=1)
  if num_fixed_crops is not None:
    msc["num_fixed_crops"] = num_fixed_crops
  train = [sample, decode, resize, msc, dict(type="Resize", scale=(crop, crop), keep_ratio=False)]
  if flip:
    train.append(flip_op(flip_label_map))
  val = [val_sample or dict(sample, test_mode=True), decode, resize,
         dict(type="CenterCrop", crop_size=crop)]
  test = val
  if three_crop_test:
    test = [test_sample or dict(sample, test_mode=True), decode, resize,
            dict(type="ThreeCrop", crop_size=short_side)]
  fmt = format_ops("NCHW")
  return train + fmt, val + fmt, test + fmt


def tsm_recognizer(num_classes=400, depth=50, base_channels=64,
                   pretrained="torchvision://resnet50", dropout_ratio=0.5, backbone="ResNetTSM",
                   shift_div=8, is_shift=True, average_clips="prob") -> dict:
  """MMAction2's TSM R50 recognizer (its ``_base_/models/tsm_r50.py``; TIN swaps the backbone)
  with what the configs and their synthetic variants change; the head's width follows
  ``depth`` and ``base_channels``."""
  expansion = 4 if depth >= 50 else 1
  backbone_cfg = dict(type=backbone, depth=depth, norm_eval=False, shift_div=shift_div)
  if pretrained:
    backbone_cfg["pretrained"] = pretrained
  if base_channels != 64:
    backbone_cfg["base_channels"] = base_channels
  return dict(
      type="Recognizer2D",
      backbone=backbone_cfg,
      cls_head=dict(type="TSMHead", num_classes=num_classes,
                    in_channels=base_channels * 8 * expansion, spatial_type="avg",
                    consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=dropout_ratio,
                    init_std=0.001, is_shift=is_shift),
      train_cfg=None,
      test_cfg=dict(average_clips=average_clips))


def tsn_recognizer(num_classes, depth=50, base_channels=64, pretrained=None,
                   dropout_ratio=0.4, **head) -> dict:
  """MMAction2's TSN recognizer (``_base_/models/tsn_r50.py``) at another depth, width and
  ``pretrained``; ``head`` adds or overrides TSNHead arguments (``multi_class``,
  ``loss_cls``, ...). The head's width follows ``depth`` and ``base_channels``."""
  expansion = 4 if depth >= 50 else 1
  backbone = dict(type="ResNet", depth=depth, norm_eval=False)
  if pretrained:
    backbone["pretrained"] = pretrained
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer2D",
      backbone=backbone,
      cls_head=dict(type="TSNHead", num_classes=num_classes,
                    in_channels=base_channels * 8 * expansion, spatial_type="avg",
                    consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=dropout_ratio,
                    init_std=0.01, **head),
      train_cfg=None,
      test_cfg=dict(average_clips=None))


def use_rawframes(c: ml_collections.ConfigDict, pipelines, root: str = "data/kinetics400",
                  name: str = "kinetics400") -> None:
  """MMAction2's rawframe layout: ``{root}/rawframes_{train,val}`` and
  ``{root}/{name}_{train,val}_list_rawframes.txt`` (val also serves as test, as in MMAction2)."""
  train, val, test = pipelines

  def ds(split):
    return dict(type="RawframeDataset", data_prefix=f"{root}/rawframes_{split}",
                ann_file=f"{root}/{name}_{split}_list_rawframes.txt")

  c.data.train = dict(ds("train"), pipeline=train)
  c.data.val = dict(ds("val"), pipeline=val)
  c.data.test = dict(ds("val"), pipeline=test)


def use_tfds(c: ml_collections.ConfigDict, pipelines, name: str,
             builder_config: str = "frames_256", data_dir: str = "",
             splits: tuple[str, str, str] = ("train", "val", "val")) -> None:
  """A dataset built by ``python -m vjax.tools.build_dataset NAME`` (or ``tfds build``) from
  the user's download: ``data.{train,val,test}`` read split ``splits[i]`` of TFDS dataset
  ``name``/``builder_config`` under ``data_dir`` ('' = $TFDS_DATA_DIR or
  ~/tensorflow_datasets). ``frames_*`` configs decode with ``FrameBytesDecode``; ``video*``
  configs with ``PyAVInit``/``DecordInit``."""
  for split, key, pipeline in zip(splits, ("train", "val", "test"), pipelines):
    c.data[key] = dict(type="TFDSDataset", name=name, split=split, data_dir=data_dir,
                       builder_config=builder_config, pipeline=pipeline)


def use_annotation_lists(c: ml_collections.ConfigDict, pipelines, *, data_root: str,
                         data_root_val: str, ann_file_train: str, ann_file_val: str,
                         ann_file_test: str | None = None,
                         dataset_type: str = "RawframeDataset", **dataset_kwargs) -> None:
  """Any MMAction2 annotation-list layout, with the variable names MMAction2's configs use;
  ``dataset_kwargs`` (e.g. ``filename_tmpl``) go to all three splits. The test split reads
  ``data_root_val``, as in MMAction2."""
  train, val, test = pipelines
  common = dict(type=dataset_type, **dataset_kwargs)
  c.data.train = dict(common, ann_file=ann_file_train, data_prefix=data_root, pipeline=train)
  c.data.val = dict(common, ann_file=ann_file_val, data_prefix=data_root_val, pipeline=val)
  c.data.test = dict(common, ann_file=ann_file_test or ann_file_val, data_prefix=data_root_val,
                     pipeline=test)


# Ground-truth segments per video after padding in localization batches (ActivityNet v1.3
# has at most 24 per video).
MAX_GT_SEGMENTS = 64


def feature_pipelines(max_gt: int = MAX_GT_SEGMENTS):
  """(train, val, test) of MMAction2's ActivityNet-feature localizers (BMN, BSN's TEM):
  features ``(C, T)`` in; training and validation also make the normalised ground truth,
  padded to ``max_gt`` rows with ``gt_mask`` so batches have static shapes."""
  load = dict(type="LoadLocalizationFeature")
  labels = [dict(type="GenerateLocalizationLabels"),
            dict(type="PadTo", sizes=dict(gt_bbox=max_gt), mask_keys=dict(gt_bbox="gt_mask"))]
  meta = dict(meta_name="video_meta", meta_keys=["video_name"])
  train = [load, *labels, dict(type="Collect", keys=["raw_feature", "gt_bbox", "gt_mask"],
                               **meta)]
  return train, list(train), [load, dict(type="Collect", keys=["raw_feature"], **meta)]


def use_activitynet(c: ml_collections.ConfigDict, pipelines, *,
                    data_root: str = "data/ActivityNet/activitynet_feature_cuhk/csv_mean_100/",
                    ann_file_train: str = "data/ActivityNet/anet_anno_train.json",
                    ann_file_val: str = "data/ActivityNet/anet_anno_val.json",
                    ann_file_test: str = "data/ActivityNet/anet_anno_val.json") -> None:
  """MMAction2's ActivityNet feature layout: ``ActivityNetDataset`` over the annotation JSONs
  with the feature files under ``data_root``."""
  train, val, test = pipelines
  ds = dict(type="ActivityNetDataset", data_prefix=data_root)
  c.data.train = dict(ds, ann_file=ann_file_train, pipeline=train)
  c.data.val = dict(ds, ann_file=ann_file_val, pipeline=val)
  c.data.test = dict(ds, ann_file=ann_file_test, pipeline=test)


def localization_evaluation(c: ml_collections.ConfigDict, interval: int = 1) -> None:
  """AR@AN (MMAction2's ActivityNetDataset metric) every ``interval`` epochs; the best
  checkpoint is kept by its AUC."""
  c.data.img_norm_cfg = None
  c.evaluation.interval = interval
  c.evaluation.metrics = ["AR@AN"]
  c.evaluation.metric_options = {}
  c.evaluation.save_best = "auc"


def test_on_all_videos(c: ml_collections.ConfigDict) -> None:
  """``data.test``: the training then the validation videos (MMAction2's
  ``anet_anno_full.json`` for BSN's TEM), with the test pipeline."""
  def dataset(split):
    cfg = c.data[split].to_dict()
    cfg.pop("pipeline", None)
    return cfg

  c.data.test = dict(type="ConcatDataset", datasets=[dataset("train"), dataset("val")],
                     pipeline=list(c.data.test.pipeline))


BSN_WORK_DIR = "work_dirs/bsn_400x100_20e_1x16_activitynet_feature/"
BSN_SYNTHETIC_WORK_DIR = "work_dirs/bsn_synthetic/"


def bsn_dirs(c: ml_collections.ConfigDict, work_dir: str = BSN_WORK_DIR) -> None:
  """The folders BSN's three stages hand results through, under one ``work_dir`` as in
  MMAction2's configs: TEM writes ``tem_results_dir``, the PGM reads it and writes
  ``pgm_proposals_dir`` and ``pgm_features_dir``, which PEM's LoadProposals reads."""
  work_dir = work_dir.rstrip("/") + "/"
  c.tem_results_dir = f"{work_dir}tem_results/"
  c.pgm_proposals_dir = f"{work_dir}pgm_proposals/"
  c.pgm_features_dir = f"{work_dir}pgm_features/"


# ---- skeleton-based recognition -----------------------------------------------------------
# COCO's left and right keypoints (what a horizontal flip swaps) and limbs, as MMAction2's
# PoseC3D configs list them.
COCO_LEFT_KP = [1, 3, 5, 7, 9, 11, 13, 15]
COCO_RIGHT_KP = [2, 4, 6, 8, 10, 12, 14, 16]
COCO_SKELETONS = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15],
                  [6, 12], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]


def skeleton_gcn(backbone: str, layout: str, strategy: str, num_classes: int,
                 num_person: int = 2, **backbone_options) -> dict:
  """MMAction2's ``SkeletonGCN`` with an ST-GCN-family backbone and ``STGCNHead``."""
  head = dict(type="STGCNHead", num_classes=num_classes, in_channels=256,
              loss_cls=dict(type="CrossEntropyLoss"))
  if num_person != 2:
    head["num_person"] = num_person
  return dict(type="SkeletonGCN",
              backbone=dict(type=backbone, in_channels=3,
                            graph_cfg=dict(layout=layout, strategy=strategy), **backbone_options),
              cls_head=head, train_cfg=None, test_cfg=None)


def gcn_pipelines(clip_len: int | None = 300, streams=(), extra=(), num_person: int = 2,
                  uniform: bool = False):
  """(train, val, test) of MMAction2's GCN configs: loop-pad to ``clip_len`` frames (None:
  keep the sample's length, as the BABEL configs; ``uniform``: ``UniformSampleFrames`` of
  ``clip_len`` over the whole sample instead, random in training, as MMAction2 1.x and the
  synthetic variants), decode, ``streams`` ops on ``(M, T, V, C)`` (JointToBone, ToMotion),
  ``FormatGCNInput`` (people padded with zeros to ``num_person``), then ``extra`` ops on its
  ``(C, T, V, M)`` (PoseNormalize)."""
  fmt = dict(type="FormatGCNInput", input_format="NCTVM")
  if num_person != 2:
    fmt["num_person"] = num_person
  tail = [dict(type="PoseDecode"), *streams, fmt, *extra,
          dict(type="Collect", keys=["keypoint", "label"], meta_keys=[])]
  if uniform:
    sample = dict(type="UniformSampleFrames", clip_len=clip_len)
    test = [dict(sample, num_clips=1, test_mode=True), *tail]
    return [sample, *tail], test, list(test)
  ops = ([dict(type="PaddingWithLoop", clip_len=clip_len)] if clip_len else []) + tail
  return ops, list(ops), list(ops)


def use_synthetic_skeleton(c: ml_collections.ConfigDict, layout: str, streams=(), extra=(),
                           epochs: int = 10) -> None:
  """The ``synthetic`` variant of the GCN configs: ``vjax_synthetic_skeleton``'s 'small'
  preset in ``layout``, 32 frames sampled uniformly, the actor only (person 0, whose motion is
  the class: ``FormatGCNInput(num_person=1)`` and a one-person head), AdamW 1e-3. With the
  zero-padded second person of 65 % of the videos in its statistics, ``data_bn`` shrank the
  actor's motion 25-fold and ST-GCN stayed at chance for 3 epochs; on the actor alone it
  learns from the first epoch."""
  from tfds_builders.vjax_synthetic_skeleton import PRESETS  # pylint: disable=g-import-not-at-top
  c.model.cls_head.num_classes = PRESETS["small"]["num_classes"]
  c.model.cls_head.num_person = 1
  use_synthetic(c, gcn_pipelines(32, streams, extra, num_person=1, uniform=True),
                name="vjax_synthetic_skeleton", builder_config=dict(layout=layout, preset="small"),
                videos_per_device=16, test_videos_per_device=16, val_split="val")
  synthetic_schedule(c, epochs=epochs, eval_interval=epochs // 2, lr=0.001)


def posec3d_model(num_classes: int, in_channels: int = 17, base_channels: int = 32,
                  stage_blocks=(4, 6, 3), depth: int = 50, dropout_ratio: float = 0.5) -> dict:
  """MMAction2's PoseC3D: ``Recognizer3D`` + ``ResNet3dSlowOnly`` over heatmap volumes."""
  return dict(
      type="Recognizer3D",
      backbone=dict(type="ResNet3dSlowOnly", depth=depth, pretrained=None,
                    in_channels=in_channels, base_channels=base_channels, num_stages=3,
                    out_indices=(2,), stage_blocks=tuple(stage_blocks), conv1_stride_s=1,
                    pool1_stride_s=1, inflate=(0, 1, 1), spatial_strides=(2, 2, 2),
                    temporal_strides=(1, 1, 2), dilations=(1, 1, 1)),
      cls_head=dict(type="I3DHead", in_channels=base_channels * 16, num_classes=num_classes,
                    spatial_type="avg", dropout_ratio=dropout_ratio),
      train_cfg=dict(), test_cfg=dict(average_clips="prob"))


def posec3d_pipelines(limb: bool = False, clip_len: int = 48, test_clips: int = 10,
                      short_side: int = 64, crop: int = 56, flip: bool = True):
  """(train, val, test) of MMAction2's PoseC3D configs: uniform sampling, PoseCompact,
  resize/crop (and flip) of the keypoints, then keypoint or limb heatmaps. ``flip=False``
  drops the training flip and the test's flip-averaged (``double``) heatmaps, for classes
  that a mirror changes (the synthetic skeletons': a flipped right-arm circle is the
  left-arm class)."""
  target = dict(type="GeneratePoseTarget", sigma=0.6, use_score=True, with_kp=not limb,
                with_limb=limb)
  if limb:
    target["skeletons"] = COCO_SKELETONS
  sides = dict(left_kp=COCO_LEFT_KP, right_kp=COCO_RIGHT_KP)
  head = [dict(type="PoseDecode"), dict(type="PoseCompact", hw_ratio=1., allow_imgpad=True),
          dict(type="Resize", scale=(-1, short_side))]
  fmt = [dict(type="FormatShape", input_format="NCTHW"),
         dict(type="Collect", keys=["imgs", "label"], meta_keys=[])]
  train = [dict(type="UniformSampleFrames", clip_len=clip_len), *head,
           dict(type="RandomResizedCrop", area_range=(0.56, 1.0)),
           dict(type="Resize", scale=(crop, crop), keep_ratio=False),
           *([dict(type="Flip", flip_ratio=0.5, **sides)] if flip else []), target, *fmt]
  val = [dict(type="UniformSampleFrames", clip_len=clip_len, num_clips=1, test_mode=True),
         *head, dict(type="CenterCrop", crop_size=short_side), target, *fmt]
  test = [dict(type="UniformSampleFrames", clip_len=clip_len, num_clips=test_clips,
               test_mode=True), *head, dict(type="CenterCrop", crop_size=short_side),
          dict(target, double=True, **sides) if flip else target, *fmt]
  return train, val, test


def use_pose_annotations(c: ml_collections.ConfigDict, pipelines, ann_file_train: str,
                         ann_file_val: str, train_times: int | None = None) -> None:
  """MMAction2's ``PoseDataset`` over pose ``.pkl`` files (val also serves as test);
  ``train_times`` wraps training in a ``RepeatDataset`` as the BABEL configs do."""
  train, val, test = pipelines
  ds = dict(type="PoseDataset", data_prefix="")
  c.data.train = dict(ds, ann_file=ann_file_train, pipeline=train)
  if train_times:
    c.data.train = dict(type="RepeatDataset", times=train_times,
                        dataset=dict(ds, ann_file=ann_file_train), pipeline=train)
  c.data.val = dict(ds, ann_file=ann_file_val, pipeline=val)
  c.data.test = dict(ds, ann_file=ann_file_val, pipeline=test)


def posec3d_recipe(arg: str, num_classes: int, name: str) -> ml_collections.ConfigDict:
  """MMAction2's PoseC3D recipe (slowonly_r50_u48_240e_{name}_{keypoint,limb}) for a config
  file's ``get_config(arg)``: variants ``keypoint`` / ``limb``, flags ``tfds`` and
  ``synthetic``; annotations ``data/posec3d/{name}_{train,val}.pkl``."""
  variant, flags = parse_config_arg(arg, variants=("keypoint", "limb"))
  limb = variant == "limb"
  c = default_config()
  c.data.img_norm_cfg = None
  c.evaluation.metrics = ["top_k_accuracy", "mean_class_accuracy"]
  if "synthetic" in flags:
    from tfds_builders.vjax_synthetic_skeleton import PRESETS  # pylint: disable=g-import-not-at-top
    c.model = posec3d_model(PRESETS["small"]["num_classes"], base_channels=16,
                            stage_blocks=(1, 1, 1), dropout_ratio=0.2)
    use_synthetic(c, posec3d_pipelines(limb, clip_len=16, test_clips=2, short_side=36, crop=32,
                                       flip=False),
                  name="vjax_synthetic_skeleton",
                  builder_config=dict(layout="coco2d", preset="small"), videos_per_device=16,
                  test_videos_per_device=8, val_split="val")
    synthetic_schedule(c, epochs=12, eval_interval=4, lr=0.003)
    return c
  c.model = posec3d_model(num_classes)
  pipelines = posec3d_pipelines(limb)
  if "tfds" in flags:  # python -m vjax.tools.build_dataset posec3d
    use_tfds(c, pipelines, "posec3d", builder_config=f"{name}_2d",
             splits=("train", "val", "val"))
  else:
    use_pose_annotations(c, pipelines, f"data/posec3d/{name}_train.pkl",
                         f"data/posec3d/{name}_val.pkl")
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.2, momentum=0.9, weight_decay=0.0003)
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  c.lr_config = dict(policy="CosineAnnealing", by_epoch=False, min_lr=0)
  c.total_epochs = 240
  c.checkpoint_config.interval = 10
  c.workflow = (("train", 10),)
  c.evaluation.interval = 10
  c.log_config.interval = 20
  return c



class ConfigArg(NamedTuple):
  """A parsed ``get_config`` argument: the variant (None in files without variants) and the
  flags given."""
  variant: str | None
  flags: frozenset


def parse_config_arg(arg: str, variants: Sequence[str] = (),
                     flags: Sequence[str] = ("synthetic", "tfds")) -> ConfigArg:
  """``'8x8,synthetic'`` -> ``ConfigArg('8x8', {'synthetic'})`` for ``get_config(arg)``.

  ``variants`` are alternative experiments of one config file (at most one per argument;
  the first is the default); ``flags`` combine with any variant. An unknown or doubled
  part is a ValueError that lists what the file accepts.
  """
  valid = ([f"one of {', '.join(map(repr, variants))} (default {variants[0]!r})"]
           if variants else []) + [repr(f) for f in flags]
  hint = "; valid parts (comma-separated): " + ("; ".join(valid) or "none")
  variant, chosen = None, set()
  for part in (p.strip() for p in (arg or "").split(",")):
    if not part:
      continue
    if part in variants:
      if variant is not None:
        raise ValueError(f"config argument {arg!r} names two variants, {variant!r} and "
                         f"{part!r}{hint}")
      variant = part
    elif part in flags:
      chosen.add(part)
    else:
      raise ValueError(f"unknown config argument {part!r}{hint}")
  return ConfigArg(variant or (variants[0] if variants else None), frozenset(chosen))


def flat_keys(cfg, prefix: str = "") -> list[str]:
  out = []
  for k, v in cfg.items():
    key = f"{prefix}{k}"
    out.append(key)
    if isinstance(v, (ml_collections.ConfigDict, dict)):
      out.extend(flat_keys(v, key + "."))
  return out


def check_overrides(cfg, argv: Iterable[str], flag: str = "config") -> None:
  """Raises a ValueError naming the closest valid keys for any ``--config.x.y`` not in ``cfg``."""
  valid = set(flat_keys(cfg))
  bad = []
  for arg in argv:
    if not arg.startswith(f"--{flag}."):
      continue
    key = arg[len(flag) + 3:].split("=", 1)[0]
    if key not in valid:
      close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
      hint = f"; did you mean {', '.join(close)}?" if close else ""
      bad.append(f"--{flag}.{key}: no such field in the config{hint}")
  if bad:
    raise ValueError("\n".join(bad))



def load_config(spec: str) -> ml_collections.ConfigDict:
  """Loads ``path/to/config.py[:arg]`` the way ``--config`` does: ``get_config(arg)``."""
  import importlib.util
  import os

  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"config file {path!r} not found")
  module_spec = importlib.util.spec_from_file_location(
      "vjax_config_" + os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()
