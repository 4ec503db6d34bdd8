"""TSN R18 1x1x8 on HVU (Holistic Video Understanding), as MMAction2's
tsn_r18_1x1x8_100e_hvu_{action,attribute,concept,event,object,scene}_rgb, plus whole-HVU
multi-category tagging.

Variants:
* ``action`` (default), ``attribute``, ``concept``, ``event``, ``object``, ``scene``: one tag
  category each, as MMAction2 ships them: a ``multi_class`` VideoDataset over that
  category's list (``hvu_{category}_{split}.json``), ``BCELossWithLogits(loss_weight=333)``,
  ``mean_average_precision``;
* ``all``: every category at once, as MMAction2 supports it without shipping a config:
  ``HVUDataset`` (``hvu_{split}.json``) + ``LoadHVULabel`` (many-hot ``label``, per-tag
  ``mask``, per-category ``category_mask``) + ``HVULoss`` (``loss_type='all'``,
  ``with_mask=True``: categories a video is not annotated with add no loss), evaluated as
  HVUDataset does, ``{category}_mAP`` per category.
All run as the ``multilabel`` task. Schedule: MMAction2's sgd_100e (SGD lr 0.01, step at 40
and 80 of 100 epochs), 32 videos per device, from torchvision's ImageNet ResNet-18.
``synthetic`` (with ``all``, its default here) trains whole-HVU tagging of a narrow ResNet-18
on ``vjax_synthetic_tags``'s HVU layout (attribute = shape colours, object = shape kinds,
scene = background style; a category is unannotated with probability 1/4) on a CPU.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, synthetic_schedule,
                         use_synthetic,
                         tsn_recognizer)

CATEGORY_NUMS = dict(action=739, attribute=117, concept=291, event=69, object=1678, scene=248)
VARIANTS = tuple(CATEGORY_NUMS) + ("all",)


def model(num_classes, loss_cls, depth=18, base_channels=64,
          pretrained="torchvision://resnet18"):
  return tsn_recognizer(num_classes, depth, base_channels, pretrained, multi_class=True,
                        loss_cls=loss_cls)


def hvu_loss(categories, category_nums) -> dict:
  return dict(type="HVULoss", categories=tuple(categories), category_nums=tuple(category_nums),
              category_loss_weights=(1,) * len(categories), loss_type="all", with_mask=True)


def pipelines(decode, init=None, keys=("imgs", "label"), num_segments=8, short_side=256,
              crop=224, test_clips=25, load_label=False):
  """MMAction2's HVU pipelines: RandomResizedCrop + Flip for training, a centre crop for val,
  25 clips x ThreeCrop at test; ``load_label`` adds LoadHVULabel first."""
  head = ([init] if init else []) + ([dict(type="LoadHVULabel")] if load_label else [])
  sample = dict(type="SampleFrames", clip_len=1, frame_interval=1)
  fmt = [dict(type="FormatShape", input_format="NCHW"),
         dict(type="Collect", keys=list(keys), meta_keys=[])]
  train = head + [dict(sample, num_clips=num_segments), decode,
                  dict(type="Resize", scale=(-1, short_side)), dict(type="RandomResizedCrop"),
                  dict(type="Resize", scale=(crop, crop), keep_ratio=False),
                  dict(type="Flip", flip_ratio=0.5)] + fmt
  val = head + [dict(sample, num_clips=num_segments, test_mode=True), decode,
                dict(type="Resize", scale=(-1, short_side)),
                dict(type="CenterCrop", crop_size=short_side)] + fmt
  test = head + [dict(sample, num_clips=test_clips, test_mode=True), decode,
                 dict(type="Resize", scale=(-1, short_side)),
                 dict(type="ThreeCrop", crop_size=short_side)] + fmt
  return train, val, test


HVU_KEYS = ("imgs", "label", "mask", "category_mask")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, VARIANTS)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.evaluation.metrics = ["mean_average_precision"]
  c.evaluation.metric_options = {}
  if "synthetic" in flags:
    if variant not in ("action", "all"):  # 'action' is the default when none is named
      raise ValueError(f"'{variant},synthetic': the synthetic HVU data trains whole-HVU "
                       "tagging; use 'synthetic' or 'all,synthetic'")
    from tfds_builders.vjax_synthetic_tags import generate  # pylint: disable=g-import-not-at-top
    cats, nums = generate.HVU_CATEGORIES, generate.HVU_CATEGORY_NUMS
    c.model = model(sum(nums), hvu_loss(cats, nums), base_channels=16, pretrained=None)
    train, val, test = pipelines(dict(type="FrameBytesDecode"), keys=HVU_KEYS, num_segments=4,
                                 short_side=64, crop=56, test_clips=4, load_label=True)
    use_synthetic(c, (train, val, test), name="vjax_synthetic_tags", builder_config="hvu_small",
                  videos_per_device=16, test_videos_per_device=8)
    synthetic_schedule(c, epochs=12, eval_interval=4, lr=0.002)
    c.evaluation.save_best = "attribute_mAP"
    return c
  decode = dict(type="DecordDecode")
  init = dict(type="DecordInit")
  if variant == "all":
    cats, nums = tuple(CATEGORY_NUMS), tuple(CATEGORY_NUMS.values())
    c.model = model(sum(nums), hvu_loss(cats, nums))
    train, val, test = pipelines(decode, init, keys=HVU_KEYS, load_label=True)

    def ds(split, pipeline, prefix):
      return dict(type="HVUDataset", ann_file=f"data/hvu/hvu_{split}.json",
                  data_prefix=prefix, tag_categories=list(cats),
                  tag_category_nums=list(nums), pipeline=pipeline)

    c.data.train = ds("train", train, "data/hvu/videos_train")
    c.data.val = ds("val", val, "data/hvu/videos_val")
    c.data.test = ds("val", test, "data/hvu/videos_val")
    c.evaluation.save_best = "action_mAP"
  else:
    num = CATEGORY_NUMS[variant]
    c.model = model(num, dict(type="BCELossWithLogits", loss_weight=333.0))
    train, val, test = pipelines(decode, init)

    def ds(split, pipeline, prefix):
      return dict(type="VideoDataset", ann_file=f"data/hvu/hvu_{variant}_{split}.json",
                  data_prefix=prefix, multi_class=True, num_classes=num, pipeline=pipeline)

    c.data.train = ds("train", train, "data/hvu/videos_train")
    c.data.val = ds("val", val, "data/hvu/videos_val")
    c.data.test = ds("val", test, "data/hvu/videos_val")
    c.evaluation.save_best = "mean_average_precision"
  c.data.videos_per_device = 32
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  c.lr_config = dict(policy="step", step=[40, 80])
  c.total_epochs = 100
  c.evaluation.interval = 2
  c.checkpoint_config.interval = 1
  return c
