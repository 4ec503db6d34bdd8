"""TSN R50 1x1x3 on Kinetics-400, as MMAction2's tsn_r50_1x1x3_100e_kinetics400_rgb.

``get_config()`` is the full experiment (32 videos per device, 100 epochs, step lr at 40
and 80; lr 0.01 is for a global batch of 256 = 8 GPUs x 32). MMAction2 starts from the
torchvision ImageNet ResNet-50 (``pretrained='torchvision://resnet50'``); here set
``load_from`` to a converted checkpoint, as nothing is downloaded at run time.
``get_config('synthetic')`` trains a narrow ResNet on ``vjax_synthetic`` on a CPU. TSN
averages per-frame features, so it cannot see motion direction: the synthetic run shows
that (its accuracy stays far below SlowFast's on the same data).

``fp16`` is MMAction2's tsn_fp16_r50_1x1x3_100e_kinetics400_rgb: the same experiment in float16
with mmcv's default static loss scale of 512 (its ``fp16 = dict()``); ``'fp16,synthetic'``
trains the synthetic run that way.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, format_ops, parse_config_arg, use_rawframes,
                         use_synthetic, use_tfds)



def model(num_classes=400, depth=50, base_channels=64, dropout_ratio=0.4):
  expansion = 4 if depth >= 50 else 1
  return dict(
      type="Recognizer2D",
      backbone=dict(type="ResNet", depth=depth, base_channels=base_channels, norm_eval=False),
      cls_head=dict(type="TSNHead", num_classes=num_classes,
                    in_channels=base_channels * 8 * expansion, spatial_type="avg",
                    consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=dropout_ratio,
                    init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips=None))


def pipelines(decode, num_segments=3, short_side=256, crop=224, test_clips=25, flip=True):
  fmt = format_ops("NCHW")
  sample = dict(type="SampleFrames", clip_len=1, frame_interval=1)
  train = [dict(sample, num_clips=num_segments), decode,
           dict(type="Resize", scale=(-1, short_side)),
           dict(type="MultiScaleCrop", input_size=crop, scales=(1, 0.875, 0.75, 0.66),
                random_crop=False, max_wh_scale_gap=1),
           dict(type="Resize", scale=(crop, crop), keep_ratio=False)]
  if flip:
    train.append(dict(type="Flip", flip_ratio=0.5))
  val = [dict(sample, num_clips=num_segments, test_mode=True), decode,
         dict(type="Resize", scale=(-1, short_side)), dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode,
          dict(type="Resize", scale=(-1, short_side)), dict(type="TenCrop", crop_size=crop)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = default_config()
  variant, flags = parse_config_arg(arg, ("1x1x3", "fp16"))
  c.data.img_norm_cfg = IMAGENET_NORM
  if variant == "fp16":
    c.fp16.loss_scale = 512.0  # mmcv's Fp16OptimizerHook default
  if "synthetic" in flags:
    c.model = model(num_classes=8, depth=18, base_channels=16)
    train, val, test = pipelines(dict(type="FrameBytesDecode"), short_side=36, crop=32,
                                 test_clips=5, flip=False)
    use_synthetic(c, (train, val, test))
    c.optimizer = dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001)
    c.lr_config = dict(policy="step", step=[3])
    c.total_epochs = 4
    c.evaluation.interval = 2
    c.log_config.interval = 10
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "kinetics400")
  else:
    use_rawframes(c, pipelines(dict(type="RawFrameDecode")))
  c.data.videos_per_device = 32
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)
  c.lr_config = dict(policy="step", step=[40, 80])
  c.total_epochs = 100
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 5
  return c
