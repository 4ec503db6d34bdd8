"""TSM R50 1x1x8 on Something-Something V2, as MMAction2's tsm_r50_1x1x8_50e_sthv2_rgb.

``get_config()`` is the full experiment: 174 classes, 8 segments, 6 videos per device, 50
epochs, step lr at 20 and 40, MMAction2's TSM optimizer (classifier at 5x lr); lr 0.0075
is for a global batch of 48 (8 GPUs x 6). No flips: Something-Something labels name
directions. The test takes twice 8 segments (segment centres and starts) x 3 crops. The
backbone starts from torchvision's ImageNet ResNet-50.
``get_config('synthetic')`` trains the same ResNetTSM + TSMHead on ``vjax_synthetic`` (whose
classes are motion directions, so it also trains without flips) at its full 64x64 with 8
frames 2 apart (MMAction2's ``DenseSampleFrames`` over a 16-frame window, 2 test positions;
see tsm_k400.py for why), a ResNet-18 of base width 16, no ImageNet weights, AdamW under the
same TSM parameter groups and a 4-epoch cosine schedule.
"""

import functools

import ml_collections

from vjax.config import (IMAGENET_NORM, default_config, parse_config_arg, segment_pipelines,
                         synthetic_schedule, tsm_recognizer, use_annotation_lists, use_synthetic,
                         use_tfds)

SAMPLE = dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8)
SYNTHETIC_SAMPLE = dict(type="DenseSampleFrames", clip_len=1, frame_interval=1, num_clips=8,
                        sample_range=16, num_sample_positions=2)


model = functools.partial(tsm_recognizer, num_classes=174)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = IMAGENET_NORM
  c.optimizer = dict(type="SGD", constructor="TSMOptimizerConstructor",
                     paramwise_cfg=dict(fc_lr5=True), lr=0.0075, momentum=0.9,
                     weight_decay=0.0005)
  c.optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, depth=18, base_channels=16, pretrained=None)
    use_synthetic(c, segment_pipelines(dict(type="FrameBytesDecode"), SYNTHETIC_SAMPLE,
                                       short_side=64, crop=64, flip=False))
    synthetic_schedule(c, constructor="TSMOptimizerConstructor", paramwise_cfg=dict(fc_lr5=True))
    return c
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset sthv2`
    use_tfds(c, segment_pipelines(dict(type="FrameBytesDecode"), SAMPLE, flip=False,
                                   test_sample=dict(SAMPLE, test_mode=True, twice_sample=True)),
             "sthv2")
  else:
    use_annotation_lists(
        c, segment_pipelines(dict(type="RawFrameDecode"), SAMPLE, flip=False,
                             test_sample=dict(SAMPLE, test_mode=True, twice_sample=True)),
        data_root="data/sthv2/rawframes",
        data_root_val="data/sthv2/rawframes",
        ann_file_train="data/sthv2/sthv2_train_list_rawframes.txt",
        ann_file_val="data/sthv2/sthv2_val_list_rawframes.txt")
  c.data.videos_per_device = 6
  c.data.test_videos_per_device = 1
  c.lr_config = dict(policy="step", step=[20, 40])
  c.total_epochs = 50
  c.evaluation.interval = 2
  c.checkpoint_config.interval = 1
  return c
