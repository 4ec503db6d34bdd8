"""TSN R101 1x1x5 on Multi-Moments in Time (multi-label), as MMAction2's
tsn_r101_1x1x5_50e_mmit_rgb.

A ``multi_class=True`` TSNHead with ``BCELossWithLogits(loss_weight=160)`` over 313 tags, so
the config runs as the ``multilabel`` task (inferred from the head); it reports
``mmit_mean_average_precision`` (MMAction2's per-sample protocol) and keeps the best
checkpoint by it. ``get_config()`` is the full experiment (16 videos per device, SGD with the
TSM constructor's ``fc_lr5``, step lr at 20 and 40 of 50 epochs; MMAction2 starts from
torchvision's ImageNet ResNet-101, read from torch hub's cache). ``get_config('synthetic')``
trains a narrow ResNet-18 TSN on ``vjax_synthetic_tags`` (1-3 shape kinds per video, six
kinds) on a CPU and also reports ``mean_average_precision``.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, synthetic_schedule,
                         tsn_recognizer, use_annotation_lists, use_synthetic, use_tfds)

NUM_CLASSES = 313


def model(num_classes=NUM_CLASSES, depth=101, base_channels=64,
          pretrained="torchvision://resnet101", loss_weight=160.0, dropout_ratio=0.5):
  return tsn_recognizer(num_classes, depth, base_channels, pretrained, dropout_ratio,
                        loss_cls=dict(type="BCELossWithLogits", loss_weight=loss_weight),
                        multi_class=True, label_smooth_eps=0)


def pipelines(decode, init=None, num_segments=5, short_side=256, crop=224, test_crop=256,
              flip=True):
  """MMAction2's: MultiScaleCrop + Flip for training, a centre crop for val and test."""
  head = [init] if init else []
  sample = dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments)
  fmt = [dict(type="FormatShape", input_format="NCHW"),
         dict(type="Collect", keys=["imgs", "label"], meta_keys=[])]
  train = head + [sample, decode, dict(type="Resize", scale=(-1, short_side)),
                  dict(type="MultiScaleCrop", input_size=crop, scales=(1, 0.875, 0.75, 0.66),
                       random_crop=False, max_wh_scale_gap=1),
                  dict(type="Resize", scale=(crop, crop), keep_ratio=False)]
  if flip:
    train.append(dict(type="Flip", flip_ratio=0.5))

  def centre(size):
    return head + [dict(sample, test_mode=True), decode,
                   dict(type="Resize", scale=(-1, short_side)),
                   dict(type="CenterCrop", crop_size=size)] + fmt

  return train + fmt, centre(crop), centre(test_crop)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.evaluation.metrics = ["mmit_mean_average_precision"]
  c.evaluation.metric_options = {}
  c.evaluation.save_best = "mmit_mean_average_precision"
  if "synthetic" in flags:
    from tfds_builders.vjax_synthetic_tags.generate import KINDS  # pylint: disable=g-import-not-at-top
    c.model = model(num_classes=len(KINDS), depth=18, base_channels=16, pretrained=None,
                    loss_weight=1.0, dropout_ratio=0.2)
    train, val, test = pipelines(dict(type="FrameBytesDecode"), short_side=64, crop=56,
                                 test_crop=64)
    use_synthetic(c, (train, val, test), name="vjax_synthetic_tags", builder_config="multilabel_small",
                  videos_per_device=16, test_videos_per_device=8)
    synthetic_schedule(c, epochs=12, eval_interval=4, lr=0.002)
    c.evaluation.metrics = ["mmit_mean_average_precision", "mean_average_precision"]
    return c
  c.model = model()
  decode = dict(type="DecordDecode")
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset mmit` (multi-hot labels)
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "mmit")
  else:
    use_annotation_lists(
        c, pipelines(decode, init=dict(type="DecordInit")), dataset_type="VideoDataset",
        data_root="data/mmit/videos", data_root_val="/data/mmit/videos",
        ann_file_train="data/mmit/mmit_train_list_videos.txt",
        ann_file_val="data/mmit/mmit_val_list_videos.txt", multi_class=True,
        num_classes=NUM_CLASSES)
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", constructor="TSMOptimizerConstructor",
                     paramwise_cfg=dict(fc_lr5=True), lr=0.01, momentum=0.9,
                     weight_decay=0.0001)
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  c.lr_config = dict(policy="step", step=[20, 40])
  c.total_epochs = 50
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 5
  return c
