"""C3D 16x1x1 on UCF-101, fine-tuned from Sports-1M, as MMAction2's
c3d_sports1m_16x1x1_45e_ucf101_rgb (official split 1; ``split2`` / ``split3`` read the other
two train/test lists).

``get_config()`` is the full experiment: 16 consecutive frames resized to fit 171x128 and
cropped to 112x112, C3D starting from the Sports-1M backbone that ``pretrained`` names (read
at training start from torch hub's checkpoint cache; vjax downloads nothing), 30 clips per
device, SGD lr 0.001 for a global batch of 240 (8 GPUs x 30), step lr at 20 and 40, 45
epochs; 10 centre-cropped clips at test, scores averaged (``average_clips='score'``). C3D's
mean-only normalisation (std 1) is kept.
``synthetic`` (``'synthetic'``, ``'split2,synthetic'``...) trains the same C3D + I3DHead from
scratch on ``vjax_synthetic``: C3D's widths are fixed, so it runs on 16x16 crops (its
flattened pool5 output is then 512, ``out_dim``), AdamW and 2 epochs; flips swap the
left/right motion labels.
"""

import ml_collections

from vjax.config import (default_config, flip_op, format_ops, parse_config_arg,
                         synthetic_flip_label_map, synthetic_schedule, use_annotation_lists,
                         use_synthetic, use_tfds)

IMG_NORM = dict(mean=[104, 117, 128], std=[1, 1, 1], to_bgr=False)
VARIANTS = ("split1", "split2", "split3")  # the first is the default
SPORTS1M = ("https://download.openmmlab.com/mmaction/recognition/c3d/"
            "c3d_sports1m_pretrain_20201016-dcc47ddc.pth")


def model(num_classes=101, pretrained=SPORTS1M, out_dim=None):
  backbone = dict(type="C3D", pretrained=pretrained, style="pytorch",
                  conv_cfg=dict(type="Conv3d"), norm_cfg=None, act_cfg=dict(type="ReLU"),
                  dropout_ratio=0.5, init_std=0.005)
  if out_dim:
    backbone["out_dim"] = out_dim
  return dict(
      type="Recognizer3D",
      backbone=backbone,
      cls_head=dict(type="I3DHead", num_classes=num_classes, in_channels=4096,
                    spatial_type=None, dropout_ratio=0.5, init_std=0.01),
      train_cfg=None,
      test_cfg=dict(average_clips="score"))


def pipelines(decode, scale=(128, 171), crop=112, test_clips=10, flip_label_map=None):
  sample = dict(type="SampleFrames", clip_len=16, frame_interval=1)
  fmt = format_ops("NCTHW")
  resize = dict(type="Resize", scale=scale)
  flip = flip_op(flip_label_map)
  train = [dict(sample, num_clips=1), decode, resize, dict(type="RandomCrop", size=crop), flip]
  val = [dict(sample, num_clips=1, test_mode=True), decode, resize,
         dict(type="CenterCrop", crop_size=crop)]
  test = [dict(sample, num_clips=test_clips, test_mode=True), decode, resize,
          dict(type="CenterCrop", crop_size=crop)]
  return train + fmt, val + fmt, test + fmt


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  variant, flags = parse_config_arg(arg, VARIANTS)
  c = default_config()
  c.data.img_norm_cfg = IMG_NORM
  c.optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
  if "synthetic" in flags:
    c.model = model(num_classes=8, pretrained=None, out_dim=512)
    use_synthetic(c, pipelines(dict(type="FrameBytesDecode"), scale=(18, 24), crop=16,
                               test_clips=2, flip_label_map=synthetic_flip_label_map()))
    synthetic_schedule(c, epochs=2, eval_interval=1, lr=0.0002)
    return c
  split = variant[-1]
  c.model = model()
  if "tfds" in flags:  # built by `python -m vjax.tools.build_dataset ucf101`
    use_tfds(c, pipelines(dict(type="FrameBytesDecode")), "ucf101",
             builder_config="frames_256" if split == "1" else f"frames_256_split{split}")
  else:
    use_annotation_lists(
        c, pipelines(dict(type="RawFrameDecode")), data_root="data/ucf101/rawframes",
        data_root_val="data/ucf101/rawframes",
        ann_file_train=f"data/ucf101/ucf101_train_split_{split}_rawframes.txt",
        ann_file_val=f"data/ucf101/ucf101_val_split_{split}_rawframes.txt")
  c.data.videos_per_device = 30
  c.data.test_videos_per_device = 1
  c.optimizer = dict(type="SGD", lr=0.001, momentum=0.9, weight_decay=0.0005)
  c.lr_config = dict(policy="step", step=[20, 40])
  c.total_epochs = 45
  c.evaluation.interval = 5
  c.checkpoint_config.interval = 5
  return c
