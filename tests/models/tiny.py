"""Tiny model configs shared by tests (same types and arguments as the real configs)."""


def slowfast(num_classes=5, dropout_ratio=0.5):
  common = dict(type="resnet3d", depth=50, stage_blocks=(1, 1, 1, 1), conv1_stride_t=1,
                pool1_stride_t=1)
  return dict(
      type="Recognizer3D",
      backbone=dict(type="ResNet3dSlowFast", resample_rate=4, speed_ratio=4, channel_ratio=8,
                    slow_pathway=dict(common, lateral=True, base_channels=16,
                                      conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1)),
                    fast_pathway=dict(common, lateral=False, base_channels=2,
                                      conv1_kernel=(5, 7, 7))),
      cls_head=dict(type="SlowFastHead", in_channels=16 * 32 + 2 * 32, num_classes=num_classes,
                    dropout_ratio=dropout_ratio),
      test_cfg=dict(average_clips="prob"))


def tsn(num_classes=5):
  return dict(type="Recognizer2D",
              backbone=dict(type="ResNet", depth=18, base_channels=8),
              cls_head=dict(type="TSNHead", num_classes=num_classes, in_channels=64,
                            dropout_ratio=0.4),
              test_cfg=dict(average_clips=None))


def task(model_cfg, norm=None, videos_per_device=8, **data):
  """The task ``vjax.main`` would build for ``model_cfg`` (normalisation ``norm``)."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  from vjax.tasks import build_task  # pylint: disable=g-import-not-at-top
  return build_task(ml_collections.ConfigDict(dict(
      model=model_cfg, data=dict(img_norm_cfg=norm, videos_per_device=videos_per_device, **data))))


def timesformer(num_classes=5, attention_type="divided_space_time"):
  """4 heads and a 128-wide MLP: divisible by the 2-4-way model and fsdp axes tests use."""
  return dict(type="Recognizer3D",
              backbone=dict(type="TimeSformer", num_frames=4, img_size=16, patch_size=8,
                            embed_dims=32, num_heads=4, num_transformer_layers=2,
                            attention_type=attention_type, dropout_ratio=0.0),
              cls_head=dict(type="TimeSformerHead", num_classes=num_classes, in_channels=32),
              test_cfg=dict(average_clips="prob"))
