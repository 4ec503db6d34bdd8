"""TRN R50 1x1x8 on Something-Something V1, as MMAction2's trn_r50_1x1x8_50e_sthv1_rgb.

``get_config()`` is the full experiment: 174 classes, 8 segments through a ResNet-50 with
partial BN and a multi-scale temporal relation head, 16 videos per device, 50 epochs, step
lr at 30 and 45, MMAction2's TSM optimizer without the 5x classifier lr; lr 0.002 is for a
global batch of 128 (8 GPUs x 16). Flips swap the Something-Something V1 labels whose
names say left/right. The test takes twice 8 segments x 3 crops. The backbone starts from
torchvision's ImageNet ResNet-50.
``get_config('synthetic')`` trains the same ResNet + TRNHead (TRNMultiScale over 8
segments) on ``vjax_synthetic`` at 32x32, with a ResNet-18 of base width 16, a 64-unit
relation MLP, no ImageNet weights and no partial BN (it keeps ImageNet BN statistics;
there are none from scratch), AdamW under the same parameter groups and 4 epochs; flips
swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, segment_pipelines,
                         synthetic_flip_label_map, synthetic_schedule, use_annotation_lists,
                         use_synthetic, use_tfds)

# Something-Something V1 classes that a horizontal flip turns into each other.
STHV1_FLIP_LABEL_MAP = {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}


def model(num_classes=174, depth=50, base_channels=64, pretrained="torchvision://resnet50",
          partial_bn=True, hidden_dim=256):
  expansion = 4 if depth >= 50 else 1
  backbone = dict(type="ResNet", depth=depth, norm_eval=False, partial_bn=partial_bn)
  if pretrained:
    backbone["pretrained"] = pretrained
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer2D",
      backbone=backbone,
      cls_head=dict(type="TRNHead", num_classes=num_classes,
                    in_channels=base_channels * 8 * expansion, num_segments=8,
                    spatial_type="avg", relation_type="TRNMultiScale", hidden_dim=hidden_dim,
                    dropout_ratio=0.8, init_std=0.001),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, flip_label_map, num_segments=8, short_side=256, crop=224):
  sample = dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments)
  return segment_pipelines(decode, sample, short_side=short_side, crop=crop,
                           flip_label_map=flip_label_map,
                           test_sample=dict(sample, twice_sample=True, test_mode=True))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, depth=18, base_channels=16, pretrained=None,
                    partial_bn=False, hidden_dim=64)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), synthetic_flip_label_map(),
                               short_side=36, crop=32))
    synthetic_schedule(c, constructor="TSMOptimizerConstructor", paramwise_cfg=dict(fc_lr5=False))
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset sthv1`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode"), STHV1_FLIP_LABEL_MAP), "sthv1")
  else:
    use_annotation_lists(
        c, pipelines(dict(type="RawFrameDecode"), STHV1_FLIP_LABEL_MAP),
        data_root="data/sthv1/rawframes", data_root_val="data/sthv1/rawframes",
        ann_file_train="data/sthv1/sthv1_train_list_rawframes.txt",
        ann_file_val="data/sthv1/sthv1_val_list_rawframes.txt", filename_tmpl="{:05}.jpg")
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", constructor="TSMOptimizerConstructor",
                     paramwise_cfg=dict(fc_lr5=False), lr=0.002, momentum=0.9,
                     weight_decay=0.0005)
  c.lr_config = dict(policy="step", step=[30, 45])
  c.total_epochs = 50
  c.evaluation.interval = 1
  c.checkpoint_config.interval = 1
  return c
