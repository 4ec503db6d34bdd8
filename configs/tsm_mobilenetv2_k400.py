"""TSM MobileNetV2 dense 1x1x8 on Kinetics-400, as MMAction2's
tsm_mobilenetv2_dense_1x1x8_100e_kinetics400_rgb.

``get_config()`` is the full experiment: 8 segments (uniform for training, dense 64-frame
windows at 10 positions for validation and test), 8 videos per device, 100 epochs, step lr
at 40 and 80, MMAction2's TSM optimizer (classifier at 5x lr); lr 0.01 is for a global
batch of 64 (8 GPUs x 8). The backbone starts from MMClassification's ImageNet
MobileNetV2 (``pretrained='mmcls://mobilenet_v2'``).
``get_config('synthetic')`` trains the same MobileNetV2TSM + TSMHead on ``vjax_synthetic``
at its full 64x64 with a quarter-width MobileNetV2 (its 1280-channel last layer is fixed),
no ImageNet weights, 8 frames 2 apart for training and 16-frame dense windows at 2
positions for evaluation (see tsm_k400.py for why), AdamW under the same TSM parameter
groups and 4 epochs; flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, segment_pipelines,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)

SAMPLE = dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8)
SYNTHETIC_SAMPLE = dict(type="DenseSampleFrames", clip_len=1, frame_interval=1, num_clips=8,
                        sample_range=16)


def model(num_classes=400, widen_factor=1.0, pretrained="mmcls://mobilenet_v2"):
  backbone = dict(type="MobileNetV2TSM", shift_div=8, num_segments=8, is_shift=True)
  if pretrained:
    backbone["pretrained"] = pretrained
  if widen_factor != 1.0:
    backbone["widen_factor"] = widen_factor
  return dict(
      type="Recognizer2D",
      backbone=backbone,
      cls_head=dict(type="TSMHead", num_segments=8, num_classes=num_classes, in_channels=1280,
                    spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1),
                    dropout_ratio=0.5, init_std=0.001, is_shift=True),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, sample, short_side=256, crop=224, sample_range=64, test_positions=10,
              flip_label_map=None):
  dense = dict(sample, type="DenseSampleFrames", test_mode=True)
  if (sample_range, test_positions) != (64, 10):
    dense.update(sample_range=sample_range, num_sample_positions=test_positions)
  return segment_pipelines(decode, sample, short_side=short_side, crop=crop,
                           flip_label_map=flip_label_map, val_sample=dense, test_sample=dense)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, widen_factor=0.25, pretrained=None)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), SYNTHETIC_SAMPLE, short_side=64,
                               crop=64,
                               sample_range=16, test_positions=2,
                               flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c, constructor="TSMOptimizerConstructor", paramwise_cfg=dict(fc_lr5=True))
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode"), SAMPLE), "kinetics400")
  else:
    use_rawframes(c, pipelines(dict(type="RawFrameDecode"), SAMPLE))
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", constructor="TSMOptimizerConstructor",
                     paramwise_cfg=dict(fc_lr5=True), lr=0.01, momentum=0.9,
                     weight_decay=0.00002)
  c.lr_config = dict(policy="step", step=[40, 80])
  c.total_epochs = 100
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 1
  return c
