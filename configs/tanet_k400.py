"""TANet R50 dense 1x1x8 on Kinetics-400, as MMAction2's
tanet_r50_dense_1x1x8_100e_kinetics400_rgb.

``get_config()`` is the full experiment: 8 densely sampled segments (within a 64-frame
window; 10 window positions at test time), 8 videos per device, 100 epochs, step lr at 50,
75 and 90, MMAction2's TSM optimizer (classifier at 5x lr); lr 0.01 is for a global batch of
64 (8 GPUs x 8). The backbone starts from torchvision's ImageNet ResNet-50.
``get_config('synthetic')`` trains the same TANet + TSMHead on ``vjax_synthetic`` at its
full 64x64 (see tsm_k400.py for why) with a ResNet-50 of base width 8 (TANet's temporal
adaptive modules sit in bottlenecks), no ImageNet weights, a 16-frame window (the videos
have 32 frames) at 2 test positions, AdamW under the same TSM parameter groups and 4
epochs; flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, segment_pipelines,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)



def model(num_classes=400, base_channels=64, pretrained="torchvision://resnet50",
          dropout_ratio=0.5, num_segments=8):
  backbone = dict(type="TANet", depth=50, num_segments=num_segments, tam_cfg=dict())
  if pretrained:
    backbone["pretrained"] = pretrained
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer2D",
      backbone=backbone,
      cls_head=dict(type="TSMHead", num_classes=num_classes, in_channels=base_channels * 32,
                    spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1),
                    dropout_ratio=dropout_ratio, init_std=0.001),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, num_segments=8, short_side=256, crop=224, sample_range=64,
              test_positions=10, flip_label_map=None):
  sample = dict(type="DenseSampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments)
  if (sample_range, test_positions) != (64, 10):
    sample.update(sample_range=sample_range, num_sample_positions=test_positions)
  return segment_pipelines(decode, sample, short_side=short_side, crop=crop,
                           flip_label_map=flip_label_map)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, base_channels=8, pretrained=None)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), short_side=64, crop=64,
                               sample_range=16, test_positions=2,
                               flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c, constructor="TSMOptimizerConstructor", paramwise_cfg=dict(fc_lr5=True))
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "kinetics400")
  else:
    use_rawframes(c, pipelines(dict(type="RawFrameDecode")))
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", constructor="TSMOptimizerConstructor",
                     paramwise_cfg=dict(fc_lr5=True), lr=0.01, momentum=0.9,
                     weight_decay=0.0001)
  c.lr_config = dict(policy="step", step=[50, 75, 90])
  c.total_epochs = 100
  c.evaluation.interval = 2
  c.checkpoint_config.interval = 1
  return c
