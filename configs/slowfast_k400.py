"""SlowFast R50 on Kinetics-400, as MMAction2's slowfast_r50_4x16x1_256e_kinetics400_rgb
(default, ``4x16``) and slowfast_r50_8x8x1_256e_kinetics400_rgb (``8x8``).

``get_config()`` is the full experiment (8 clips per device, 256 epochs, cosine lr with 34
warmup epochs; lr 0.1 is for a global batch of 64, as in MMAction2's 8 GPUs x 8 clips).
Both sample 32 frames 2 apart; ``8x8`` halves tau and alpha (the slow pathway sees 8 of
them, not 4) and widens the slow pathway's lateral fusion kernel from 5 to 7 frames.
``get_config('synthetic')`` swaps in the built-in ``vjax_synthetic`` dataset and shrinks
width, depth, resolution and schedule so a 2-core CPU run finishes in minutes;
``'8x8,synthetic'`` is that run with tau and alpha halved again and the 7-frame fusion.
The ``multigrid`` flag trains with long and short cycles: ``'8x8,multigrid'`` is MMAction2's
slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb (with its PreciseBN), and
``'synthetic,multigrid'`` a few epochs of it on the synthetic data.
"""

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, format_ops, parse_config_arg,
                         synthetic_schedule, use_rawframes, use_synthetic, use_tfds)



def model(num_classes=400, base_channels=64, depth=50, stage_blocks=None, resample_rate=8,
          speed_ratio=8, channel_ratio=8, dropout_ratio=0.5, fusion_kernel=None):
  expansion = 4 if depth >= 50 else 1
  slow_out = base_channels * 8 * expansion
  common = dict(type="resnet3d", depth=depth, conv1_stride_t=1, pool1_stride_t=1,
                norm_eval=False)
  if stage_blocks:
    common["stage_blocks"] = stage_blocks
  slow = dict(common, lateral=True, base_channels=base_channels, conv1_kernel=(1, 7, 7),
              dilations=(1, 1, 1, 1), inflate=(0, 0, 1, 1))
  if fusion_kernel is not None:  # MMAction2's default is 5
    slow["fusion_kernel"] = fusion_kernel
  return dict(
      type="Recognizer3D",
      backbone=dict(
          type="ResNet3dSlowFast",
          resample_rate=resample_rate,  # tau
          speed_ratio=speed_ratio,  # alpha
          channel_ratio=channel_ratio,  # beta_inv
          slow_pathway=slow,
          fast_pathway=dict(common, lateral=False, base_channels=base_channels // channel_ratio,
                            conv1_kernel=(5, 7, 7))),
      cls_head=dict(type="SlowFastHead", in_channels=slow_out + slow_out // channel_ratio,
                    num_classes=num_classes, spatial_type="avg", dropout_ratio=dropout_ratio),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, clip_len=32, frame_interval=2, short_side=256, crop=224, test_clips=10,
              area_range=(0.08, 1.0), flip=True):
  sample = dict(type="SampleFrames", clip_len=clip_len, frame_interval=frame_interval)
  fmt = format_ops("NCTHW")
  train = [dict(sample, num_clips=1), decode,
           dict(type="Resize", scale=(-1, short_side)),
           dict(type="RandomResizedCrop", area_range=area_range),
           dict(type="Resize", scale=(crop, crop), keep_ratio=False)]
  if flip:
    train.append(dict(type="Flip", flip_ratio=0.5))
  val = [dict(sample, num_clips=1, test_mode=True), decode,
         dict(type="Resize", scale=(-1, short_side)), dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode,
          dict(type="Resize", scale=(-1, short_side)),
          dict(type="ThreeCrop", crop_size=short_side)]
  # Normalize runs on device (data.img_norm_cfg): uint8 crosses the host-device link.
  return train + fmt, val + fmt, test + fmt


def multigrid(c: ml_collections.ConfigDict, lr_steps, total_epochs: int) -> None:
  """MMAction2's slowfast_multigrid_r50_8x8x1_358e_kinetics400_rgb schedule: long and short
  cycles over batch, frames and size, step lr; ``total_epochs`` x 1.5 epochs are trained."""
  c.multigrid = dict(long_cycle=True, short_cycle=True, epoch_factor=1.5,
                     long_cycle_factors=[[0.25, 0.7071], [0.5, 0.7071], [0.5, 1], [1, 1]],
                     short_cycle_factors=[0.5, 0.7071],
                     default_s=tuple(c.data.train.pipeline[4]["scale"]))
  c.lr_config = dict(policy="step", step=list(lr_steps))
  c.total_epochs = total_epochs


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, ("4x16", "8x8"), ("synthetic", "multigrid", "tfds"))
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  rate = 1 if variant == "4x16" else 2  # tau and alpha are divided by this
  fusion_kernel = None if variant == "4x16" else 7
  if "synthetic" in flags:
    c.model = model(num_classes=8, base_channels=16, stage_blocks=(1, 1, 1, 1),
                    resample_rate=4 // rate, speed_ratio=4 // rate, dropout_ratio=0.0,
                    fusion_kernel=fusion_kernel)
    decode = dict(type="FrameBytesDecode")
    # Classes are motion directions: a horizontal flip would change the label, so no Flip.
    train, val, test = pipelines(decode, clip_len=16, frame_interval=2, short_side=36, crop=32,
                                 test_clips=2, area_range=(0.5, 1.0), flip=False)
    use_synthetic(c, (train, val, test))
    # From scratch at batch 8, SGD at lr 0.05 diverged within 100 steps; AdamW learns steadily.
    synthetic_schedule(c)
    c.checkpoint_config.interval = 1
    if "multigrid" in flags:  # 6 x 1.5 epochs, with a 1-epoch warm-up fit for AdamW
      multigrid(c, lr_steps=(3, 5), total_epochs=6)
      c.multigrid.warmup_epochs = 1
      c.multigrid.warmup_start_lr = 0.0001
    return c
  c.model = model(resample_rate=8 // rate, speed_ratio=8 // rate, fusion_kernel=fusion_kernel)
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "kinetics400")
  else:
    use_rawframes(c, pipelines(dict(type="RawFrameDecode")))
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.data.workers = 2
  c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001)
  c.lr_config = dict(policy="CosineAnnealing", min_lr=0, warmup="linear", warmup_by_epoch=True,
                     warmup_iters=34)
  c.total_epochs = 256
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 4
  if "multigrid" in flags:  # with 8x8: MMAction2's multigrid config
    c.model["backbone"]["slow_pathway"]["lateral_norm"] = True
    multigrid(c, lr_steps=(94, 154, 196), total_epochs=239)
    c.evaluation.interval = 3
    c.checkpoint_config.interval = 3
    c.precise_bn = dict(num_iters=200, interval=3)
  return c
