"""TimeSformer (divided space-time attention) 8x32x1 on Kinetics-400, as MMAction2's
timesformer_divST_8x32x1_15e_kinetics400_rgb.

``get_config()`` is the full experiment: 8 frames 32 apart, a ViT-B/16 at 224x224 starting
from the ImageNet ViT that ``pretrained`` names (read at training start from torch hub's
checkpoint cache; vjax downloads nothing), 8 clips per device, SGD with Nesterov momentum at
lr 0.005 for a global batch of 64 (8 GPUs x 8), weight decay 1e-4 on every parameter, step
lr at 5 and 10, 15 epochs; 1 clip x 3 crops at test. MMAction2's config exempts
``'.backbone.cls_token'``, ``'.backbone.pos_embed'`` and ``'.backbone.time_embed'`` from
weight decay (``paramwise_cfg.custom_keys``, kept here as [key, options] pairs because
ConfigDict keys cannot hold dots), but mmcv matches those keys against names without a
leading dot (``backbone.cls_token``), so they exempt nothing, in MMAction2 as in vjax.
``get_config('synthetic')`` trains the same TimeSformer + TimeSformerHead from scratch on
``vjax_synthetic`` at 32x32 with 8 frames 2 apart, 8x8 patches, 2 layers of width 64 with
4 heads, AdamW and 4 epochs; flips swap the left/right motion labels.
"""

import ml_collections

from vjax.config import (default_config, flip_op, format_ops, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_rawframes, use_synthetic,
                         use_tfds)

IMG_NORM = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_bgr=False)
VIT_B16 = ("https://download.openmmlab.com/mmaction/recognition/timesformer/"
           "vit_base_patch16_224.pth")


def model(num_classes=400, pretrained=VIT_B16, img_size=224, patch_size=16, embed_dims=768,
          num_heads=None, num_layers=None):
  backbone = dict(type="TimeSformer", pretrained=pretrained, num_frames=8, img_size=img_size,
                  patch_size=patch_size, embed_dims=embed_dims, in_channels=3,
                  dropout_ratio=0.0, transformer_layers=None,
                  attention_type="divided_space_time", norm_cfg=dict(type="LN", eps=1e-6))
  if num_heads:
    backbone["num_heads"] = num_heads
  if num_layers:
    backbone["num_transformer_layers"] = num_layers
  return dict(
      type="Recognizer3D",
      backbone=backbone,
      cls_head=dict(type="TimeSformerHead", num_classes=num_classes, in_channels=embed_dims),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(decode, frame_interval=32, scale_range=(256, 320), short_side=256, crop=224,
              flip_label_map=None):
  sample = dict(type="SampleFrames", clip_len=8, frame_interval=frame_interval)
  fmt = format_ops("NCTHW")
  flip = flip_op(flip_label_map)
  train = [dict(sample, num_clips=1), decode,
           dict(type="RandomRescale", scale_range=scale_range),
           dict(type="RandomCrop", size=crop), flip]
  val = [dict(sample, num_clips=1, test_mode=True), decode,
         dict(type="Resize", scale=(-1, short_side)), dict(type="CenterCrop", crop_size=crop)]
  # The test crops are as large as the short side, which must equal the model's img_size.
  test = [dict(sample, num_clips=1, test_mode=True), decode,
          dict(type="Resize", scale=(-1, crop)), dict(type="ThreeCrop", crop_size=crop)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMG_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, pretrained=None, img_size=32, patch_size=8, embed_dims=64,
                    num_heads=4, num_layers=2)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), frame_interval=2,
                               scale_range=(32, 40), short_side=36, crop=32,
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
  c.optimizer = dict(type="SGD", lr=0.005, momentum=0.9, weight_decay=1e-4, nesterov=True,
                     paramwise_cfg=dict(custom_keys=[
                         [".backbone.cls_token", dict(decay_mult=0.0)],
                         [".backbone.pos_embed", dict(decay_mult=0.0)],
                         [".backbone.time_embed", dict(decay_mult=0.0)]]))
  c.lr_config = dict(policy="step", step=[5, 10])
  c.total_epochs = 15
  c.evaluation.interval = 1
  c.checkpoint_config.interval = 1
  return c
