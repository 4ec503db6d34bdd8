"""BSN's temporal evaluation module (TEM) on ActivityNet v1.3 features, as MMAction2's
bsn_tem_400x100_1x16_20e_activitynet_feature: the first of BSN's three stages.

    python -m vjax.main --config=configs/bsn_tem_activitynet.py --workdir=work_dirs/bsn_tem
    python -m vjax.main --config=configs/bsn_tem_activitynet.py --workdir=work_dirs/bsn_tem \\
        --mode=test        # action/start/end per step of every video -> tem_results_dir/*.csv

then ``configs/bsn_pgm_activitynet.py`` (proposal generation) and
``configs/bsn_pem_activitynet.py`` (proposal evaluation). TEM has no metric: MMAction2 logs
its validation loss (``workflow`` train then val). The test split is every video
(``anet_anno_full.json``) because the PGM needs TEM results for training and validation
videos alike. ``get_config('synthetic')`` runs on ``vjax_synthetic_localization`` (its test
split: the train and validation videos) on a CPU.
"""

import ml_collections

from vjax.config import (BSN_SYNTHETIC_WORK_DIR, bsn_dirs, default_config, feature_pipelines,
                         parse_config_arg, synthetic_schedule, test_on_all_videos, use_activitynet,
                         use_synthetic, use_tfds)


def model(temporal_dim=100, tem_feat_dim=400, tem_hidden_dim=512) -> dict:
  """MMAction2's ``_base_/models/bsn_tem.py``."""
  return dict(type="TEM", temporal_dim=temporal_dim, boundary_ratio=0.1,
              tem_feat_dim=tem_feat_dim, tem_hidden_dim=tem_hidden_dim, tem_match_threshold=0.5)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  c.data.img_norm_cfg = None
  c.evaluation.metrics = []
  c.evaluation.save_best = ""
  c.workflow = (("train", 1), ("val", 1))
  c.optimizer = dict(type="Adam", lr=0.001, weight_decay=0.0001)
  c.optimizer_config = dict(grad_clip=None)
  if "synthetic" in flags:
    from tfds_builders.vjax_synthetic_localization import PRESETS  # pylint: disable=g-import-not-at-top
    shape = PRESETS["small"]
    c.model = model(shape["temporal_dim"], shape["feat_dim"], tem_hidden_dim=128)
    use_synthetic(c, feature_pipelines(), name="vjax_synthetic_localization",
                  builder_config=dict(preset="small"), videos_per_device=16,
                  test_videos_per_device=16)
    test_on_all_videos(c)
    synthetic_schedule(c, epochs=6, eval_interval=2, lr=0.002)
    bsn_dirs(c, BSN_SYNTHETIC_WORK_DIR)
    c.test.out = c.tem_results_dir
    return c
  c.model = model()
  if "tfds" in flags:  # python -m vjax.tools.build_dataset activitynet
    use_tfds(c, feature_pipelines(), "activitynet", builder_config="csv_mean_100",
             splits=("train", "val", "val"))
    test_on_all_videos(c)
  else:
    use_activitynet(c, feature_pipelines(),
                    ann_file_test="data/ActivityNet/anet_anno_full.json")
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.data.workers = 8
  c.lr_config = dict(policy="step", step=7)
  c.total_epochs = 20
  c.log_config.interval = 50
  bsn_dirs(c)
  c.test.out = c.tem_results_dir
  return c
