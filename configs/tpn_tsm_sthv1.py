"""TPN over TSM R50 1x1x8 on Something-Something V1, as MMAction2's
tpn_tsm_r50_1x1x8_150e_sthv1_rgb.

``get_config()`` is the full experiment: 174 classes, 8 segments, a temporal pyramid over
res4 and res5 with an auxiliary head (loss weight 0.5), 8 videos per device, 150 epochs,
step lr at 75 and 125, plain SGD with Nesterov momentum (this MMAction2 config does not use
the TSM optimizer constructor); lr 0.01 is for a global batch of 64 (8 GPUs x 8). Tests
are fully convolutional (``fcn_test``) over twice 8 segments x 3 crops. The backbone starts
from torchvision's ImageNet ResNet-50. MMAction2's config flips Something-Something
frames without a label map; kept as is.
``get_config('synthetic')`` trains the same ResNetTSM + TPN + TPNHead on
``vjax_synthetic`` at its full 64x64 with 8 frames 2 apart (MMAction2's
``DenseSampleFrames`` over a 16-frame window, 2 test positions; see tsm_k400.py for why), a
ResNet-18 of base width 16, a 32-channel pyramid (the pyramid's 2048-channel fusion is fixed
in TPN), no ImageNet weights, AdamW and 4 epochs; flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, flip_op, format_ops, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_annotation_lists,
                         use_synthetic, use_tfds)

SAMPLE = dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8)
SYNTHETIC_SAMPLE = dict(type="DenseSampleFrames", clip_len=1, frame_interval=1, num_clips=8,
                        sample_range=16, num_sample_positions=2)


def model(num_classes=174, depth=50, base_channels=64, tpn_channels=1024,
          pretrained="torchvision://resnet50"):
  expansion = 4 if depth >= 50 else 1
  c4, c5 = base_channels * 4 * expansion, base_channels * 8 * expansion
  backbone = dict(type="ResNetTSM", depth=depth, out_indices=(2, 3), norm_eval=False,
                  shift_div=8)
  if pretrained:
    backbone["pretrained"] = pretrained
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer2D",
      backbone=backbone,
      neck=dict(
          type="TPN", in_channels=(c4, c5), out_channels=tpn_channels,
          spatial_modulation_cfg=dict(in_channels=(c4, c5), out_channels=c5),
          temporal_modulation_cfg=dict(downsample_scales=(8, 8)),
          upsample_cfg=dict(scale_factor=(1, 1, 1)),
          downsample_cfg=dict(downsample_scale=(1, 1, 1)),
          level_fusion_cfg=dict(in_channels=(tpn_channels, tpn_channels),
                                mid_channels=(tpn_channels, tpn_channels),
                                out_channels=2 * tpn_channels,
                                downsample_scales=((1, 1, 1), (1, 1, 1))),
          aux_head_cfg=dict(out_channels=num_classes, loss_weight=0.5)),
      cls_head=dict(type="TPNHead", num_classes=num_classes, in_channels=2048,
                    spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1),
                    dropout_ratio=0.5, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips="prob", fcn_test=True))


def pipelines(decode, sample, short_side=256, crop=224, flip_label_map=None,
              twice_sample=True):
  fmt = format_ops("NCHW")
  resize = dict(type="Resize", scale=(-1, short_side))
  flip = flip_op(flip_label_map)
  train = [sample, decode, dict(type="RandomResizedCrop"),
           dict(type="Resize", scale=(crop, crop), keep_ratio=False), flip,
           dict(type="ColorJitter")]
  val = [dict(sample, test_mode=True), decode, resize, dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, test_mode=True, **({"twice_sample": True} if twice_sample else {})),
          decode, resize,
          dict(type="ThreeCrop", crop_size=short_side)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, depth=18, base_channels=16, tpn_channels=32,
                    pretrained=None)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), SYNTHETIC_SAMPLE, short_side=64,
                               crop=64, flip_label_map=synthetic_flip_label_map(),
                               twice_sample=False))
    synthetic_schedule(c)
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset sthv1`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode"), SAMPLE), "sthv1")
  else:
    use_annotation_lists(
        c, pipelines(dict(type="RawFrameDecode"), SAMPLE), data_root="data/sthv1/rawframes",
        data_root_val="data/sthv1/rawframes",
        ann_file_train="data/sthv1/sthv1_train_list_rawframes.txt",
        ann_file_val="data/sthv1/sthv1_val_list_rawframes.txt")
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.data.workers = 8
  c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0005, nesterov=True)
  c.lr_config = dict(policy="step", step=[75, 125])
  c.total_epochs = 150
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 1
  return c
