"""I3D R50 32x2x1 on Kinetics-400, as MMAction2's i3d_r50_32x2x1_100e_kinetics400_rgb
(default, ``base``) and i3d_nl_embedded_gaussian_r50_32x2x1_100e_kinetics400_rgb (``nl``).

``get_config()``: 32 frames 2 apart, a ResNet-50 inflated from torchvision's ImageNet
weights (``pretrained2d``; 3x1x1 kernels in alternate blocks), 8 clips per device, SGD lr 0.01
for a global batch of 64 (8 GPUs x 8), step lr at 40 and 80, 100 epochs, 10 clips x 3 crops
at test. ``nl`` adds embedded-Gaussian non-local blocks (unscaled, sub-sampled) after every
other block of res3 and res4.
``synthetic`` (``'synthetic'``, ``'nl,synthetic'``) trains the same ResNet3d + I3DHead on
``vjax_synthetic`` at 32x32 with 16 frames 2 apart, one (inflated) block per stage of base
width 16 (``nl``: non-local blocks in res3 and res4), no ImageNet weights, AdamW and 4
epochs; flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, flip_op, format_ops, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)

VARIANTS = ("base", "nl")  # the first is the default
INFLATE = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
NON_LOCAL = ((0, 0, 0), (0, 1, 0, 1), (0, 1, 0, 1, 0, 1), (0, 0, 0))
NON_LOCAL_CFG = dict(sub_sample=True, use_scale=False,
                     norm_cfg=dict(type="BN3d", requires_grad=True), mode="embedded_gaussian")


def model(num_classes=400, pretrained="torchvision://resnet50", inflate=INFLATE,
          non_local=None, base_channels=64, stage_blocks=None):
  backbone = dict(type="ResNet3d", depth=50, conv1_kernel=(5, 7, 7), conv1_stride_t=2,
                  pool1_stride_t=2, conv_cfg=dict(type="Conv3d"), norm_eval=False,
                  inflate=inflate, zero_init_residual=False)
  if pretrained:
    backbone.update(pretrained2d=True, pretrained=pretrained)
  if stage_blocks:
    backbone["stage_blocks"] = stage_blocks
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  if non_local:
    backbone.update(non_local=non_local, non_local_cfg=NON_LOCAL_CFG)
  return dict(
      type="Recognizer3D",
      backbone=backbone,
      cls_head=dict(type="I3DHead", num_classes=num_classes, in_channels=base_channels * 32,
                    spatial_type="avg", dropout_ratio=0.5, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, clip_len=32, frame_interval=2, short_side=256, crop=224, test_clips=10,
              flip_label_map=None):
  sample = dict(type="SampleFrames", clip_len=clip_len, frame_interval=frame_interval)
  fmt = format_ops("NCTHW")
  resize = dict(type="Resize", scale=(-1, short_side))
  flip = flip_op(flip_label_map)
  train = [dict(sample, num_clips=1), decode, resize,
           dict(type="MultiScaleCrop", input_size=crop, scales=(1, 0.8), random_crop=False,
                max_wh_scale_gap=0),
           dict(type="Resize", scale=(crop, crop), keep_ratio=False), flip]
  val = [dict(sample, num_clips=1, test_mode=True), decode, resize,
         dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode, resize,
          dict(type="ThreeCrop", crop_size=short_side)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, VARIANTS)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, pretrained=None, inflate=((1,), (1,), (1,), (1,)),
                    non_local=((0,), (1,), (1,), (0,)) if variant == "nl" else None,
                    base_channels=16, stage_blocks=(1, 1, 1, 1))
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), clip_len=16, short_side=36,
                               crop=32, test_clips=2,
                               flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c)
    return c
  c.model = model(non_local=NON_LOCAL if variant == "nl" else None)
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "kinetics400")
  else:
    use_rawframes(c, pipelines(dict(type="RawFrameDecode")))
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)
  c.lr_config = dict(policy="step", step=[40, 80])
  c.total_epochs = 100
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 5
  return c
