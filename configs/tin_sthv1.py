"""TIN R50 1x1x8 on Something-Something V1, as MMAction2's tin_r50_1x1x8_40e_sthv1_rgb.

``get_config()`` is the full experiment: 174 classes, 8 segments, 6 videos per device, 40
epochs of cosine lr down to half the base lr after a 1-epoch linear warmup, MMAction2's TSM
optimizer (classifier at 5x lr); lr 0.02 is for a global batch of 48 (8 GPUs x 6). No
flips (Something-Something labels name directions); frames are ``{:05}.jpg`` as in the
Something-Something V1 release. The backbone starts from torchvision's ImageNet ResNet-50.
``get_config('synthetic')`` trains the same ResNetTIN + TSMHead (temporal interlace) on
``vjax_synthetic`` at its full 64x64 with 8 frames 2 apart (MMAction2's
``DenseSampleFrames`` over a 16-frame window, one test position; see tsm_k400.py for why),
a ResNet-18 of base width 16, no ImageNet weights, AdamW under the same TSM parameter groups
and 4 epochs.
"""

import functools

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, segment_pipelines,
                         tsm_recognizer, use_annotation_lists, use_synthetic, use_tfds)

SAMPLE = dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8)
# No flips (Something-Something labels name directions), MultiScaleCrop's default 5 fixed crops,
# one centre crop at test.
TIN_CROPS = dict(flip=False, num_fixed_crops=None, three_crop_test=False)
# One test position: TIN scores one view per video (average_clips=None).
SYNTHETIC_SAMPLE = dict(type="DenseSampleFrames", clip_len=1, frame_interval=1, num_clips=8,
                        sample_range=16, num_sample_positions=1)


model = functools.partial(tsm_recognizer, num_classes=174, backbone="ResNetTIN",
                          shift_div=4, dropout_ratio=0.8, is_shift=False,
                          average_clips=None)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  c.lr_config = dict(policy="CosineAnnealing", min_lr_ratio=0.5, warmup="linear",
                     warmup_ratio=0.1, warmup_by_epoch=True, warmup_iters=1)
  if "synthetic" in flags:
    c.model = model(num_classes=8, depth=18, base_channels=16, pretrained=None)
    use_synthetic(c, segment_pipelines(dict(type="FrameBytesDecode"), SYNTHETIC_SAMPLE,
                                       short_side=64, crop=64, **TIN_CROPS))
    c.optimizer = dict(type="AdamW", constructor="TSMOptimizerConstructor",
                       paramwise_cfg=dict(fc_lr5=True), lr=0.001, weight_decay=0.0001)
    c.total_epochs = 4
    c.evaluation.interval = 2
    c.log_config.interval = 10
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset sthv1`
    use_tfds(c, segment_pipelines(dict(type="FrameBytesDecode"), SAMPLE, **TIN_CROPS), "sthv1")
  else:
    use_annotation_lists(
        c, segment_pipelines(dict(type="RawFrameDecode"), SAMPLE, **TIN_CROPS),
        data_root="data/sthv1/rawframes",
        data_root_val="data/sthv1/rawframes",
        ann_file_train="data/sthv1/sthv1_train_list_rawframes.txt",
        ann_file_val="data/sthv1/sthv1_val_list_rawframes.txt", filename_tmpl="{:05}.jpg")
  c.data.videos_per_device = 6
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", constructor="TSMOptimizerConstructor",
                     paramwise_cfg=dict(fc_lr5=True), lr=0.02, momentum=0.9,
                     weight_decay=0.0005)
  c.total_epochs = 40
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 1
  return c
