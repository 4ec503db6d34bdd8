"""Audio-only recognition on Kinetics-400 audio features, as MMAction2's
audioonly_r50_64x1x1_100e_kinetics400_audio_feature (default) and
tsn_r18_64x1x1_100e_kinetics400_audio_feature (``r18``), MMAction2 0.24.1's two configs on
offline audio features (its tsn_r50_64x1x1_100e_kinetics400_audio decodes raw audio instead).

Both read offline spectrogram features (``AudioFeatureDataset``: ``.npy`` files listed
with the video's frame count): each clip covers 64 video frames, cut to 128 feature rows.
``get_config()``: ResNetAudio R50 + AudioTSNHead, 160 clips per device, SGD at lr 2.0 for a
global batch of 1280 (8 GPUs x 160), cosine over 100 epochs, 10 test clips.
``get_config('r18')``: a 2D ResNet-18 on the one-channel spectrogram, 320 clips per device,
lr 0.1 for a global batch of 2560, cosine over 100 epochs, 1 test clip.
The trainer feeds ``imgs`` to every recognizer, so the pipelines end by renaming MMAction2's
``audios`` to it; features are not normalised (``img_norm_cfg=None``).
``synthetic`` (e.g. ``'synthetic'``, ``'r18,synthetic'``) cannot use ``vjax_synthetic``
(it has no audio): it generates ``vjax_synthetic_audio`` (class-coded tone sweeps in noise,
40 bins; 480/96 train/val clips) on first use and reads it through AudioFeatureDataset,
with 32-frame clips of 64 rows, the same model types at base width 8 (R50) or 16 (R18),
AdamW and 5 epochs.
"""

import ml_collections

from vjax.config import (default_config, parse_config_arg, synthetic_schedule, use_annotation_lists,
                         use_tfds)

VARIANTS = ("r50", "r18")  # the first is the default


def model(variant="r50", num_classes=400, base_channels=None):
  """ResNetAudio's feature has base_channels * 32 channels, ResNet-18's base_channels * 8."""
  if variant == "r50":
    base = base_channels or 32
    backbone = dict(type="ResNetAudio", depth=50, pretrained=None, in_channels=1,
                    norm_eval=False)
    if base != 32:
      backbone["base_channels"] = base
    feat = base * 32
  else:
    base = base_channels or 64
    backbone = dict(type="ResNet", depth=18, in_channels=1, norm_eval=False)
    if base != 64:
      backbone["base_channels"] = base
    feat = base * 8
  return dict(
      type="AudioRecognizer",
      backbone=backbone,
      cls_head=dict(type="AudioTSNHead", num_classes=num_classes, in_channels=feat,
                    dropout_ratio=0.5, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips="prob"))


def pipelines(clip_len=64, fixed_length=128, test_clips=10):
  def pipeline(**sample):
    return [dict(type="LoadAudioFeature"),
            dict(type="SampleFrames", clip_len=clip_len, frame_interval=1, **sample),
            dict(type="AudioFeatureSelector", fixed_length=fixed_length),
            dict(type="FormatAudioShape", input_format="NCTF"),
            dict(type="Collect", keys=["audios", "label"], meta_keys=[])]

  return (pipeline(num_clips=1), pipeline(num_clips=1, test_mode=True),
          pipeline(num_clips=test_clips, test_mode=True))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, VARIANTS)
  c = default_config()
  c.data.img_norm_cfg = None
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  c.lr_config = dict(policy="CosineAnnealing", min_lr=0)
  if "synthetic" in flags:
    c.model = model(variant, num_classes=8, base_channels=8 if variant == "r50" else 16)
    train, val, test = pipelines(clip_len=32, fixed_length=64,
                                 test_clips=2 if variant == "r50" else 1)
    ds = dict(type="vjax_synthetic_audio", data_dir="")
    c.data.train = dict(ds, split="train", pipeline=train)
    c.data.val = dict(ds, split="val", pipeline=val)
    c.data.test = dict(ds, split="val", pipeline=test)
    c.data.videos_per_device = 8
    c.data.test_videos_per_device = 4
    c.data.workers = 0
    synthetic_schedule(c, epochs=5, eval_interval=1)
    return c
  c.model = model(variant)
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset kinetics400_audio_feature`
    use_tfds(c, pipelines(test_clips=10 if variant == "r50" else 1), "kinetics400_audio_feature",
             builder_config="audio_feature")
  else:
    use_annotation_lists(
        c, pipelines(test_clips=10 if variant == "r50" else 1),
        dataset_type="AudioFeatureDataset", data_root="data/kinetics400/audio_feature_train",
        data_root_val="data/kinetics400/audio_feature_val",
        ann_file_train="data/kinetics400/kinetics400_train_list_audio_feature.txt",
        ann_file_val="data/kinetics400/kinetics400_val_list_audio_feature.txt")
  c.data.workers = 2
  c.total_epochs = 100
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 5
  if variant == "r50":
    c.data.videos_per_device = 160
    c.data.test_videos_per_device = 160  # MMAction2's test script uses videos_per_gpu
    c.optimizer = dict(type="SGD", lr=2.0, momentum=0.9, weight_decay=0.0001)
    c.log_config.interval = 1
  else:
    c.data.videos_per_device = 320
    c.data.test_videos_per_device = 320
    c.optimizer = dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001)
  return c
