"""X3D on Kinetics-400: the network and test protocol of MMAction2's
x3d_s_13x6x1_facebook_kinetics400_rgb (default, ``s``) and
x3d_m_16x5x1_facebook_kinetics400_rgb (``m``), plus a training schedule.

X3D-S and X3D-M are one network (gamma_w=1, gamma_b=2.25, gamma_d=2.2) fed different
inputs: S tests 13 frames 6 apart at a 192 short side (3 crops of 192), M 16 frames 5 apart
at 256 (3 crops of 256), 10 clips each, with MMAction2's X3D normalisation.
MMAction2 0.24.1 only has these test configs (for the converted Facebook weights), so the
training side follows the X3D reference configs (facebookresearch/SlowFast
configs/Kinetics/X3D_{S,M}.yaml): 16 clips per device, SGD lr 0.1 for a global batch of 128
(8 devices x 16), weight decay 5e-5 and none on BatchNorm, 35 linear warmup epochs from a
tenth of the lr, cosine over 300 epochs; short side jittered in [182, 228] with 160 crops
(S) or [256, 320] with 224 crops (M), flips. Validation (our choice) is one centre clip: the
test short side, a centre crop of the training size. The reference's precise-BN pass before
evaluation is not done here.
``synthetic`` (``'synthetic'``, ``'m,synthetic'``) trains the same X3D + X3DHead on
``vjax_synthetic`` at 32x32 with 13 (S) or 16 (M) frames 2 apart, gamma_w=0.5 and
gamma_d=0.4 (16 base channels; 1, 1, 2, 2 blocks), AdamW and 2 epochs (a step took about
3.5 s on 2 busy CPU cores: XLA's CPU depthwise 3D convolutions are slow); flips swap the
left/right motion labels.
"""

import ml_collections

from vjax.config import (default_config, flip_op, format_ops, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic)

IMG_NORM = dict(mean=[114.75, 114.75, 114.75], std=[57.38, 57.38, 57.38], to_bgr=False)
VARIANTS = ("s", "m")  # the first is the default
# variant: (clip_len, frame_interval, train short-side range, train crop, test short side)
INPUTS = {"s": (13, 6, (182, 228), 160, 192), "m": (16, 5, (256, 320), 224, 256)}


def model(num_classes=400, gamma_w=1, gamma_d=2.2, in_channels=432):
  """``in_channels`` is X3D's output width: its rounded base width (24 * gamma_w, to a
  multiple of 8) x 8 x gamma_b, so 432 at gamma_w=1."""
  return dict(
      type="Recognizer3D",
      backbone=dict(type="X3D", gamma_w=gamma_w, gamma_b=2.25, gamma_d=gamma_d),
      cls_head=dict(type="X3DHead", in_channels=in_channels, num_classes=num_classes,
                    spatial_type="avg", dropout_ratio=0.5, fc1_bias=False),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, clip_len, frame_interval, scale_range, crop, test_short_side,
              test_clips=10, flip_label_map=None):
  sample = dict(type="SampleFrames", clip_len=clip_len, frame_interval=frame_interval)
  fmt = format_ops("NCTHW")
  resize = dict(type="Resize", scale=(-1, test_short_side))
  flip = flip_op(flip_label_map)
  train = [dict(sample, num_clips=1), decode,
           dict(type="RandomRescale", scale_range=scale_range),
           dict(type="RandomCrop", size=crop), flip]
  val = [dict(sample, num_clips=1, test_mode=True), decode, resize,
         dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode, resize,
          dict(type="ThreeCrop", crop_size=test_short_side)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, VARIANTS)
  clip_len, frame_interval, scale_range, crop, test_short_side = INPUTS[variant]
  c = default_config()
  c.data.img_norm_cfg = IMG_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, gamma_w=0.5, gamma_d=0.4, in_channels=288)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), clip_len, 2, (32, 40), 32, 36,
                               test_clips=2, flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c, epochs=2, eval_interval=1, paramwise_cfg=dict(norm_decay_mult=0.0))
    return c
  c.model = model()
  use_rawframes(c, pipelines(dict(type="RawFrameDecode"), clip_len, frame_interval,
                             scale_range, crop, test_short_side))
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=5e-5,
                     paramwise_cfg=dict(norm_decay_mult=0.0))
  c.lr_config = dict(policy="CosineAnnealing", min_lr=0, warmup="linear", warmup_ratio=0.1,
                     warmup_by_epoch=True, warmup_iters=35)
  c.total_epochs = 300
  c.evaluation.interval = 10
  c.checkpoint_config.interval = 10
  return c
