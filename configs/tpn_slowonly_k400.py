"""TPN over SlowOnly R50 8x8x1 on Kinetics-400, as MMAction2's
tpn_slowonly_r50_8x8x1_150e_kinetics_rgb.

``get_config()`` is the full experiment: 8 frames 8 apart through a SlowOnly ResNet-50
trained from scratch, a temporal pyramid over res4 and res5 with an auxiliary head (loss
weight 0.5), 8 clips per device, SGD with Nesterov momentum at lr 0.01 for a global batch of
64 (8 GPUs x 8), step lr at 75 and 125, 150 epochs; colour jitter in training (and, as in
MMAction2's config, in validation); 10 clips x 3 crops at test.
``get_config('synthetic')`` trains the same ResNet3dSlowOnly + TPN + TPNHead on
``vjax_synthetic`` at 32x32 with 8 frames 2 apart, one block per stage of base width 16, a
32-channel pyramid (the pyramid's 2048-channel fusion is fixed in TPN), AdamW and 4 epochs;
flips swap the left/right motion labels. Its SlowOnly backbone sees this dataset's motion
as poorly as slowonly_k400's synthetic run does (see there).
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, flip_op, format_ops, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)



def model(num_classes=400, base_channels=64, stage_blocks=None, tpn_channels=1024):
  c4, c5 = base_channels * 16, base_channels * 32
  backbone = dict(type="ResNet3dSlowOnly", depth=50, pretrained=None, lateral=False,
                  out_indices=(2, 3), conv1_kernel=(1, 7, 7), conv1_stride_t=1,
                  pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False)
  if stage_blocks:
    backbone["stage_blocks"] = stage_blocks
  if base_channels != 64:
    backbone["base_channels"] = base_channels
  return dict(
      type="Recognizer3D",
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
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, frame_interval=8, short_side=256, crop=224, test_clips=10,
              area_range=None, flip_label_map=None):
  sample = dict(type="SampleFrames", clip_len=8, frame_interval=frame_interval)
  fmt = format_ops("NCTHW")
  resize = dict(type="Resize", scale=(-1, short_side))
  rrc = dict(type="RandomResizedCrop")
  if area_range:
    rrc["area_range"] = area_range
  flip = flip_op(flip_label_map)
  train = [dict(sample, num_clips=1), decode, rrc,
           dict(type="Resize", scale=(crop, crop), keep_ratio=False), flip,
           dict(type="ColorJitter")]
  val = [dict(sample, num_clips=1, test_mode=True), decode, resize,
         dict(type="CenterCrop", crop_size=crop), dict(type="ColorJitter")]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode, resize,
          dict(type="ThreeCrop", crop_size=short_side)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, base_channels=16, stage_blocks=(1, 1, 1, 1),
                    tpn_channels=32)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), frame_interval=2, short_side=36,
                               crop=32, test_clips=2, area_range=(0.5, 1.0),
                               flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c)
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "kinetics400")
  else:
    use_rawframes(c, pipelines(dict(type="RawFrameDecode")))
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.data.workers = 8
  c.optimizer = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001, nesterov=True)
  c.lr_config = dict(policy="step", step=[75, 125])
  c.total_epochs = 150
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 1
  return c
