"""BSN's proposal generation module (PGM) settings, as MMAction2's
bsn_pgm_400x100_activitynet_feature: the second of BSN's three stages, run by a tool.

    python -m vjax.tools.bsn_proposal_generation configs/bsn_pgm_activitynet.py --mode train
    python -m vjax.tools.bsn_proposal_generation configs/bsn_pgm_activitynet.py --mode test

It reads ``tem_results_dir`` (the TEM config's test output) and writes candidate proposals
and their BSP features for the training (``train``) or validation (``test``) videos of
``ann_file_train`` / ``ann_file_val``. ``get_config('synthetic')`` does the same for
``vjax_synthetic_localization`` (its videos come from the data splits, as no annotation
file exists).
"""

import ml_collections

from vjax.config import BSN_SYNTHETIC_WORK_DIR, bsn_dirs, parse_config_arg, use_synthetic

TEMPORAL_SCALE = 100


def pgm_settings(c: ml_collections.ConfigDict, temporal_scale: int = TEMPORAL_SCALE,
                 threads: int = 8) -> None:
  """MMAction2's pgm_proposals_cfg and pgm_features_{train,test}_cfg."""
  c.pgm_proposals_cfg = dict(pgm_proposals_thread=threads, temporal_scale=temporal_scale,
                             peak_threshold=0.5)
  features = dict(pgm_features_thread=max(1, threads // 2), num_sample_start=8,
                  num_sample_end=8, num_sample_action=16, num_sample_interp=3,
                  bsp_boundary_ratio=0.2)
  c.pgm_features_test_cfg = dict(features, top_k=1000)
  c.pgm_features_train_cfg = dict(features, top_k=500)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg, flags=("synthetic",))
  c = ml_collections.ConfigDict()
  if "synthetic" in flags:
    from tfds_builders.vjax_synthetic_localization import PRESETS  # pylint: disable=g-import-not-at-top
    shape = PRESETS["small"]
    c.data = ml_collections.ConfigDict()
    use_synthetic(c, ([], [], []), name="vjax_synthetic_localization",
                  builder_config=dict(preset="small"))
    c.ann_file_train = ""
    c.ann_file_val = ""
    bsn_dirs(c, BSN_SYNTHETIC_WORK_DIR)
    pgm_settings(c, shape["temporal_dim"], threads=2)
    return c
  c.ann_file_train = "data/ActivityNet/anet_anno_train.json"
  c.ann_file_val = "data/ActivityNet/anet_anno_val.json"
  c.ann_file_test = "data/ActivityNet/anet_anno_test.json"
  bsn_dirs(c)
  pgm_settings(c)
  return c
