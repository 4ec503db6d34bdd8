"""irCSN R152 32x2x1 on Kinetics-400, fine-tuned from IG65M, as MMAction2's
ircsn_ig65m_pretrained_r152_32x2x1_58e_kinetics400_rgb.

``get_config()`` is the full experiment: 32 frames 2 apart, an interaction-reduced
channel-separated ResNet-152 (no pool2) starting from the IG65M-pretrained backbone that
``pretrained`` names (read at training start from torch hub's checkpoint cache, where
MMAction2 would download it; vjax downloads nothing), 3 clips per device, SGD
lr 0.000125 for a global batch of 24 (8 GPUs x 3), 16 warmup epochs from a tenth of it, step
lr at 32 and 48, 58 epochs; 10 clips x 3 crops at test, at most 10 views through the
backbone at once (``max_testing_views``).
``get_config('synthetic')`` trains the same ResNet3dCSN (ir bottlenecks) + I3DHead from
scratch on ``vjax_synthetic`` at 32x32 with 16 frames 2 apart, one block per stage of base
width 16, AdamW and 4 epochs; flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, clip_pipelines, default_config, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)

IG65M = ("https://download.openmmlab.com/mmaction/recognition/csn/"
         "ircsn_from_scratch_r152_ig65m_20200807-771c4135.pth")


def model(num_classes=400, pretrained=IG65M, base_channels=64, stage_blocks=None):
  backbone = dict(type="ResNet3dCSN", pretrained2d=False, pretrained=pretrained, depth=152,
                  with_pool2=False, bottleneck_mode="ir", norm_eval=False,
                  zero_init_residual=False)
  if stage_blocks:
    backbone["stage_blocks"] = stage_blocks
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer3D",
      backbone=backbone,
      cls_head=dict(type="I3DHead", num_classes=num_classes, in_channels=base_channels * 32,
                    spatial_type="avg", dropout_ratio=0.5, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips="prob", max_testing_views=10))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, pretrained=None, base_channels=16,
                    stage_blocks=(1, 1, 1, 1))
    use_synthetic(c, clip_pipelines(dict(type="FrameBytesDecode"), clip_len=16,
                                    frame_interval=2, short_side=36, crop=32, test_clips=2,
                                    area_range=(0.5, 1.0),
                                    flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c)
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, clip_pipelines(dict(type="FrameBytesDecode"), 32, 2), "kinetics400")
  else:
    use_rawframes(c, clip_pipelines(dict(type="RawFrameDecode"), 32, 2))
  c.data.videos_per_device = 3
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.000125, momentum=0.9, weight_decay=0.0001)
  c.lr_config = dict(policy="step", step=[32, 48], warmup="linear", warmup_ratio=0.1,
                     warmup_by_epoch=True, warmup_iters=16)
  c.total_epochs = 58
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 1
  return c
