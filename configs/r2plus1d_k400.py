"""R(2+1)D R34 8x8x1 on Kinetics-400, as MMAction2's r2plus1d_r34_8x8x1_180e_kinetics400_rgb.

``get_config()`` is the full experiment: 8 frames 8 apart, a ResNet-34 of factorised
(2+1)D convolutions (temporal stride 2 in res3-res5) with SyncBN (eps 1e-3) trained from
scratch, 8 clips per device, SGD lr 0.1 for a global batch of 64 (8 GPUs x 8), cosine over
180 epochs, 10 clips x 3 crops at test. SyncBN is vjax's global batch statistics
(``bn_stats='sync'``, the default), whatever ``bn_stats`` says for other norms.
``get_config('synthetic')`` trains the same ResNet2Plus1d + I3DHead on ``vjax_synthetic``
at 32x32 with 8 frames 2 apart, one block per stage of base width 16, AdamW and 4 epochs;
flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, clip_pipelines, default_config, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)



def model(num_classes=400, base_channels=64, stage_blocks=None):
  backbone = dict(type="ResNet2Plus1d", depth=34, pretrained=None, pretrained2d=False,
                  norm_eval=False, conv_cfg=dict(type="Conv2plus1d"),
                  norm_cfg=dict(type="SyncBN", requires_grad=True, eps=1e-3),
                  conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                  inflate=(1, 1, 1, 1), spatial_strides=(1, 2, 2, 2),
                  temporal_strides=(1, 2, 2, 2), zero_init_residual=False)
  if stage_blocks:
    backbone["stage_blocks"] = stage_blocks
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer3D",
      backbone=backbone,
      cls_head=dict(type="I3DHead", num_classes=num_classes, in_channels=base_channels * 8,
                    spatial_type="avg", dropout_ratio=0.5, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, base_channels=16, stage_blocks=(1, 1, 1, 1))
    use_synthetic(c, clip_pipelines(dict(type="FrameBytesDecode"), clip_len=8,
                                    frame_interval=2, short_side=36, crop=32, test_clips=2,
                                    area_range=(0.5, 1.0),
                                    flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c)
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, clip_pipelines(dict(type="FrameBytesDecode"), 8, 8), "kinetics400")
  else:
    use_rawframes(c, clip_pipelines(dict(type="RawFrameDecode"), 8, 8))
  # MMAction2 builds the val and test datasets with test_mode=True (no effect on their lists).
  c.data.val.test_mode = True
  c.data.test.test_mode = True
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001)
  c.lr_config = dict(policy="CosineAnnealing", min_lr=0)
  c.total_epochs = 180
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 5
  return c
