"""BSN's proposal evaluation module (PEM) on PGM's proposals, as MMAction2's
bsn_pem_400x100_1x16_20e_activitynet_feature: the last of BSN's three stages.

    python -m vjax.main --config=configs/bsn_pem_activitynet.py --workdir=work_dirs/bsn_pem
    python -m vjax.main --config=configs/bsn_pem_activitynet.py --workdir=work_dirs/bsn_pem \\
        --mode=test        # AR@AN, and the proposal JSON in test.out

It trains on the BSP features of the training videos' 500 best PGM proposals and evaluates
AR@AN on the validation videos' 1000 (``LoadProposals`` from ``pgm_proposals_dir`` and
``pgm_features_dir``; each video's proposals padded to ``top_k`` with ``proposal_mask``).
Run the TEM config's test and ``bsn_proposal_generation`` (``--mode train`` and ``--mode
test``) first. ``get_config('synthetic')`` is the same flow on ``vjax_synthetic_localization``.
"""

import ml_collections

from vjax.config import (BSN_SYNTHETIC_WORK_DIR, bsn_dirs, default_config,
                         localization_evaluation, parse_config_arg, synthetic_schedule,
                         use_activitynet, use_synthetic, use_tfds)

PROPOSAL_FIELDS = ("bsp_feature", "tmin", "tmax", "tmin_score", "tmax_score")


def model(pem_feat_dim=32, pem_hidden_dim=256) -> dict:
  """MMAction2's ``_base_/models/bsn_pem.py``."""
  return dict(type="PEM", pem_feat_dim=pem_feat_dim, pem_hidden_dim=pem_hidden_dim,
              pem_u_ratio_m=1, pem_u_ratio_l=2, pem_high_temporal_iou_threshold=0.6,
              pem_low_temporal_iou_threshold=0.2, soft_nms_alpha=0.75,
              soft_nms_low_threshold=0.65, soft_nms_high_threshold=0.9, post_process_top_k=100)


def pipelines(c: ml_collections.ConfigDict, train_top_k: int = 500, test_top_k: int = 1000):
  """(train, val, test): LoadProposals of the config's PGM folders, padded to ``top_k``."""
  def load(top_k):
    return dict(type="LoadProposals", top_k=top_k, pgm_proposals_dir=c.pgm_proposals_dir,
                pgm_features_dir=c.pgm_features_dir)

  def pad(keys, top_k):
    return dict(type="PadTo", sizes={k: top_k for k in keys},
                mask_keys={k: "proposal_mask" for k in keys})

  meta = dict(meta_name="video_meta", meta_keys=["video_name"])
  train_keys = ["bsp_feature", "reference_temporal_iou"]
  train = [load(train_top_k), pad(train_keys, train_top_k),
           dict(type="Collect", keys=train_keys + ["proposal_mask"], **meta)]
  test = [load(test_top_k), pad(PROPOSAL_FIELDS, test_top_k),
          dict(type="Collect", keys=list(PROPOSAL_FIELDS) + ["proposal_mask"], **meta)]
  return train, test, list(test)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  _, flags = parse_config_arg(arg)
  c = default_config()
  localization_evaluation(c)
  c.optimizer = dict(type="Adam", lr=0.01, weight_decay=0.00001)
  c.optimizer_config = dict(grad_clip=None)
  if "synthetic" in flags:
    c.model = model(pem_hidden_dim=64)
    bsn_dirs(c, BSN_SYNTHETIC_WORK_DIR)
    use_synthetic(c, pipelines(c), name="vjax_synthetic_localization",
                  builder_config=dict(preset="small"), videos_per_device=16,
                  test_videos_per_device=16)
    synthetic_schedule(c, epochs=10, eval_interval=5, lr=0.002)
    c.test.out = f"{BSN_SYNTHETIC_WORK_DIR}results.json"
    return c
  c.model = model()
  bsn_dirs(c)
  if "tfds" in flags:  # python -m vjax.tools.build_dataset activitynet
    use_tfds(c, pipelines(c), "activitynet", builder_config="csv_mean_100",
             splits=("train", "val", "val"))
  else:
    use_activitynet(c, pipelines(c))
  c.data.videos_per_device = 16
  c.data.test_videos_per_device = 1
  c.data.workers = 8
  c.lr_config = dict(policy="step", step=10)
  c.total_epochs = 20
  c.log_config.interval = 50
  c.test.out = "work_dirs/bsn_400x100_20e_1x16_activitynet_feature/results.json"
  return c
