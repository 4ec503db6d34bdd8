"""SSN R50 on THUMOS14 (RGB), as MMAction2's ssn_r50_450e_thumos14_rgb_{train,test}.

``get_config()`` (variant ``train``) is MMAction2's train config: ResNet-50 (torchvision
ImageNet weights, partial BN) + SSNHead with STPPTrain, ``SSNDataset`` on the TAG proposals of
THUMOS14's val set, 8 proposals per video (1 positive, 6 incomplete, 1 background), SGD
lr 0.001 stepped at epochs 200 and 400 of 450; with the test config's ``test_cfg`` and test
split, so ``--mode=test`` reports MMAction2's ``mAP@0.10`` ... ``mAP@0.90``. MMAction2's train
config never evaluates; here ``data.val`` (the val proposals under the test pipeline) is
evaluated once, when training ends. ``get_config('test')`` is MMAction2's test config (an
STPPTest head, no training settings).

Test samples: MMAction2 scores every 6th frame of a whole video in one sample; vjax cuts each
video into chunks of ``TEST_TICKS`` ticks (``SSNDataset.test_ticks_per_sample``, padded by
``PadTo``), so every predict step has one shape and bounded memory, and puts the chunks back
together before pooling (see ``vjax.data.sources.ssn``).

The paths are MMAction2's config's (``data/thumos14/...``): its tools/data/thumos14 scripts
write the frames to ``rawframes/{val,test}`` and the denormalised TAG lists to ``proposals/``;
point ``data.*.data_prefix`` / ``ann_file`` there if yours follow the scripts.

``get_config('tfds')`` reads the ``thumos14`` TFDS dataset (``python -m vjax.tools.build_dataset
thumos14 --manual_dir=data/thumos14 --config=frames_340x256``) instead of the frame folders.

``get_config('synthetic')`` trains a narrow ResNet-18 SSN on ``thumos14_synthetic`` (a few dozen
short videos with planted actions and noisy TAG proposals, generated on first use) on a CPU
in a few minutes and reports the same mAP keys.
"""

import ml_collections

from vjax.config import IMAGENET_NORM, default_config, parse_config_arg, synthetic_schedule

NUM_CLASSES = 20
TEST_TICKS = 256  # ticks per test sample (chunk)
TRAIN_CFG = dict(ssn=dict(
    assigner=dict(positive_iou_threshold=0.7, background_iou_threshold=0.01,
                  incomplete_iou_threshold=0.3, background_coverage_threshold=0.02,
                  incomplete_overlap_threshold=0.01),
    sampler=dict(num_per_video=8, positive_ratio=1, background_ratio=1, incomplete_ratio=6,
                 add_gt_as_proposals=True),
    loss_weight=dict(comp_loss_weight=0.1, reg_loss_weight=0.1),
    debug=False))
TEST_CFG = dict(ssn=dict(
    sampler=dict(test_interval=6, batch_size=16),
    evaluater=dict(top_k=2000, nms=0.2, softmax_before_filter=True, cls_score_dict=None,
                   cls_top_k=2)))
IMG_NORM = dict(mean=[104, 117, 128], std=[1, 1, 1], to_bgr=True)


def model(variant="train", num_classes=NUM_CLASSES, depth=50, base_channels=64,
          pretrained="torchvision://resnet50", partial_bn=True, dropout_ratio=0.8,
          test_interval=6):
  expansion = 4 if depth >= 50 else 1
  backbone = dict(type="ResNet", depth=depth, norm_eval=False, partial_bn=partial_bn)
  if pretrained:
    backbone["pretrained"] = pretrained
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  if variant == "test":
    consensus = dict(type="STPPTest", stpp_stage=(1, 1, 1))
  else:
    consensus = dict(type="STPPTrain", stpp_stage=(1, 1, 1), num_segments_list=(2, 5, 2))
  test_cfg = dict(ssn=dict(TEST_CFG["ssn"], sampler=dict(test_interval=test_interval,
                                                        batch_size=16)))
  out = dict(type="SSN", backbone=backbone, spatial_type="avg", dropout_ratio=dropout_ratio,
             loss_cls=dict(type="SSNLoss"),
             cls_head=dict(type="SSNHead", dropout_ratio=0.,
                           in_channels=base_channels * 8 * expansion, num_classes=num_classes,
                           consensus=consensus, use_regression=True),
             test_cfg=test_cfg)
  if variant == "train":
    out["train_cfg"] = TRAIN_CFG
  return out


def pipelines(resize=True, test_interval=6, test_ticks=TEST_TICKS, decode="RawFrameDecode"):
  """(train, val, test): MMAction2's, Normalize on device; val and test score tick chunks."""
  sample = dict(type="SampleProposalFrames", clip_len=1, body_segments=5, aug_segments=(2, 2),
                aug_ratio=0.5)
  spatial = ([dict(type="Resize", scale=(340, 256), keep_ratio=True),
              dict(type="CenterCrop", crop_size=224)] if resize else [])
  train = [sample, dict(type=decode), *spatial,
           dict(type="FormatShape", input_format="NPTCHW"),
           dict(type="Collect", keys=["imgs", "reg_targets", "proposal_scale_factor",
                                      "proposal_labels", "proposal_type"], meta_keys=[])]
  test = [dict(sample, mode="test", test_interval=test_interval), dict(type=decode),
          *spatial, dict(type="FormatShape", input_format="NCHW"),
          dict(type="PadTo", sizes=dict(imgs=test_ticks), mask_keys=dict(imgs="tick_mask")),
          dict(type="Collect", keys=["imgs", "tick_mask"], meta_keys=[])]
  return train, test, test


def _datasets(c, variant, train, test, common, train_source, test_source, test_ticks,
              val_source=None):
  """data.train (train mode), data.val (``val_source``, default the train videos) and data.test
  (test mode, tick chunks)."""
  if variant == "train":
    c.data.train = dict(train_source, **common, body_segments=5, aug_segments=(2, 2),
                        aug_ratio=0.5, test_mode=False, verbose=True, pipeline=train)
    c.data.val = dict(val_source or train_source, **common, aug_ratio=0.5, test_mode=True,
                      test_ticks_per_sample=test_ticks, pipeline=test)
  c.data.test = dict(test_source, **common, aug_ratio=0.5, test_mode=True,
                     test_ticks_per_sample=test_ticks, pipeline=test)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, variants=("train", "test"), flags=("synthetic", "tfds"))
  c = default_config()
  c.evaluation = dict(interval=450, start=0, metrics=["mAP"],
                      metric_options=dict(mAP=dict(eval_dataset="thumos14")), save_best="",
                      rule="greater")
  common = dict(train_cfg=TRAIN_CFG, test_cfg=TEST_CFG)
  if "synthetic" in flags:
    c.model = model(variant, num_classes=3, depth=18, base_channels=8, pretrained=None,
                    partial_bn=False, dropout_ratio=0.2, test_interval=2)
    train, val, test = pipelines(resize=False, test_interval=2, test_ticks=32)
    c.data.img_norm_cfg = IMAGENET_NORM
    common = dict(train_cfg=TRAIN_CFG, test_cfg=c.model["test_cfg"])
    source = dict(type="thumos14_synthetic", data_dir="")
    # Evaluated on the held-out split (the full config's data.val is its training videos).
    _datasets(c, variant, train, test, common, dict(source, split="val"),
              dict(source, split="test"), 32, val_source=dict(source, split="test"))
    c.data.videos_per_device = 4
    c.data.test_videos_per_device = 4
    c.data.workers = 0
    synthetic_schedule(c, epochs=16, eval_interval=8, lr=0.002)
    c.evaluation.save_best = "mAP@0.50"
    c.checkpoint_config.interval = 8
    return c
  c.model = model(variant)
  c.data.img_norm_cfg = IMG_NORM
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset thumos14`
    train, val, test = pipelines(decode="FrameBytesDecode")
    tfds = dict(name="thumos14", data_dir="", builder_config="frames_340x256")
    sources = [dict(type="SSNDataset", ann_file=None, tfds=dict(tfds, split=s))
               for s in ("val", "test")]
  else:
    train, val, test = pipelines()
    root = "./data/thumos14/rawframes/"
    sources = [dict(type="SSNDataset", ann_file=f"data/thumos14/thumos14_tag_{s}_proposal_list.txt",
                    data_prefix=root) for s in ("val", "test")]
  _datasets(c, variant, train, test, common, *sources, TEST_TICKS)
  c.data.videos_per_device = 1
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.001, momentum=0.9, weight_decay=1e-6)
  c.optimizer_config = dict(grad_clip=dict(max_norm=35, norm_type=2))
  c.lr_config = dict(policy="step", step=[200, 400])
  c.total_epochs = 450
  c.checkpoint_config.interval = 5
  c.log_config.interval = 1 if variant == "train" else 5
  return c
