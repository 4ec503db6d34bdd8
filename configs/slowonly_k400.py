"""SlowOnly R50 on Kinetics-400, as MMAction2's slowonly_r50_4x16x1_256e_kinetics400_rgb
(default, ``4x16``), slowonly_r50_8x8x1_256e_kinetics400_rgb (``8x8``) and
slowonly_nl_embedded_gaussian_r50_8x8x1_150e_kinetics400_rgb (``nl``).

``4x16`` / ``8x8``: 4 frames 16 apart / 8 frames 8 apart, trained from scratch, 8 clips per
device, SGD lr 0.1 for a global batch of 64 (8 GPUs x 8), cosine over 256 epochs.
``nl``: the 8x8 network with embedded-Gaussian non-local blocks in res3 and res4 (every
other block), from torchvision's ImageNet ResNet-50 (inflated), lr 0.01 for the same batch,
step lr at 90 and 130 after a 10-epoch linear warmup, 150 epochs. All test on 10 clips x 3
crops.
``synthetic`` (``'synthetic'``, ``'8x8,synthetic'``, ``'nl,synthetic'``) trains the same
ResNet3dSlowOnly + I3DHead on ``vjax_synthetic`` at 32x32 with one block per stage of base
width 16 (``nl``: a non-local block in res3 and res4), the frame spacing divided by 4 (the
synthetic clips have 32 frames), no ImageNet weights, AdamW and 4 epochs; flips swap the
left/right motion labels. Expect little above chance: SlowOnly's first temporal kernels are
in res4, where a 32x32 clip is 4x4 features and the texture's 1-2 pixel motion is gone
(``8x8,synthetic``: 15.5% top-1 after 4 epochs, chance 12.5%), whereas I3D, R(2+1)D, CSN
and SlowFast's fast pathway convolve time from their first layer.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, clip_pipelines, default_config, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)

VARIANTS = ("4x16", "8x8", "nl")  # the first is the default
NON_LOCAL_CFG = dict(sub_sample=True, use_scale=True,
                     norm_cfg=dict(type="BN3d", requires_grad=True), mode="embedded_gaussian")


def model(num_classes=400, pretrained=None, non_local=None, base_channels=64,
          stage_blocks=None):
  backbone = dict(type="ResNet3dSlowOnly", depth=50, pretrained=pretrained, lateral=False,
                  conv1_kernel=(1, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                  inflate=(0, 0, 1, 1), norm_eval=False)
  if stage_blocks:
    backbone["stage_blocks"] = stage_blocks
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  if non_local:
    backbone.update(non_local=non_local, non_local_cfg=NON_LOCAL_CFG)
  return dict(
      type="Recognizer3D",
      backbone=backbone,
      cls_head=dict(type="I3DHead", in_channels=base_channels * 32, num_classes=num_classes,
                    spatial_type="avg", dropout_ratio=0.5),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, VARIANTS)
  clip_len, frame_interval = (4, 16) if variant == "4x16" else (8, 8)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, base_channels=16, stage_blocks=(1, 1, 1, 1),
                    non_local=((0,), (1,), (1,), (0,)) if variant == "nl" else None)
    use_synthetic(c, clip_pipelines(dict(type="FrameBytesDecode"), clip_len,
                                    frame_interval // 4, short_side=36, crop=32, test_clips=2,
                                    area_range=(0.5, 1.0),
                                    flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c)
    return c
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, clip_pipelines(dict(type="FrameBytesDecode"), clip_len, frame_interval),
             "kinetics400")
  else:
    use_rawframes(c, clip_pipelines(dict(type="RawFrameDecode"), clip_len, frame_interval))
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.evaluation.interval = 5
  if variant == "nl":
    c.model = model(pretrained="torchvision://resnet50",
                    non_local=((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0)))
    c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)
    c.lr_config = dict(policy="step", step=[90, 130], warmup="linear", warmup_by_epoch=True,
                       warmup_iters=10)
    c.total_epochs = 150
    c.checkpoint_config.interval = 1
  else:
    c.model = model()
    c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001)
    c.lr_config = dict(policy="CosineAnnealing", min_lr=0)
    c.total_epochs = 256
    c.checkpoint_config.interval = 4
  return c
