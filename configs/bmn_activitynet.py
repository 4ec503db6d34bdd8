"""BMN on ActivityNet v1.3 features, as MMAction2's bmn_400x100_2x8_9e_activitynet_feature.

``get_config()`` is the full experiment: CUHK's ``csv_mean_100`` features (100 steps x 400
channels per video) under ``data/ActivityNet/``, 8 videos per device (MMAction2 used 2 GPUs),
Adam at 1e-3 with a step at epoch 7 of 9, AR@AN after every epoch, the proposal JSON written
by ``--mode=test`` to ``test.out`` (MMAction2's ``output_config``). ``get_config('tfds')``
reads the same data built by ``python -m vjax.tools.build_dataset activitynet``.
``get_config('synthetic')`` trains a narrower BMN on ``vjax_synthetic_localization`` (feature
sequences with planted action segments) on a CPU and reports AR@AN / AUC.
"""

import ml_collections

from vjax.config import (default_config, feature_pipelines, localization_evaluation,
                         parse_config_arg, synthetic_schedule, use_activitynet, use_synthetic,
                         use_tfds)


def model(temporal_dim=100, feat_dim=400, **overrides) -> dict:
  """MMAction2's ``_base_/models/bmn_400x100.py``."""
  return dict(dict(type="BMN", temporal_dim=temporal_dim, boundary_ratio=0.5, num_samples=32,
                   num_samples_per_bin=3, feat_dim=feat_dim, soft_nms_alpha=0.4,
                   soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9,
                   post_process_top_k=100), **overrides)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  localization_evaluation(c)
  c.optimizer = dict(type="Adam", lr=0.001, weight_decay=0.0001)
  c.optimizer_config = dict(grad_clip=None)
  if "synthetic" in flags:
    from tfds_builders.vjax_synthetic_localization import PRESETS  # pylint: disable=g-import-not-at-top
    shape = PRESETS["small"]
    c.model = model(shape["temporal_dim"], shape["feat_dim"], hidden_dim_1d=64,
                    hidden_dim_2d=32, hidden_dim_3d=64)
    use_synthetic(c, feature_pipelines(), name="vjax_synthetic_localization",
                  builder_config=dict(preset="small"), videos_per_device=8,
                  test_videos_per_device=8)
    synthetic_schedule(c, epochs=6, eval_interval=2, lr=0.002)
    c.test.out = "work_dirs/bmn_synthetic/results.json"
    return c
  c.model = model()
  if "tfds" in flags:  # python -m vjax.tools.build_dataset activitynet
    use_tfds(c, feature_pipelines(), "activitynet", builder_config="csv_mean_100",
             splits=("train", "val", "val"))
  else:
    use_activitynet(c, feature_pipelines())
  c.data.videos_per_device = 8
  c.data.test_videos_per_device = 1
  c.data.workers = 8
  c.lr_config = dict(policy="step", step=7)
  c.total_epochs = 9
  c.log_config.interval = 50
  c.test.out = "work_dirs/bmn_400x100_2x8_9e_activitynet_feature/results.json"
  return c
