"""``python -m vjax.main --config=configs/<exp>.py[:arg] --workdir=DIR --mode=train|eval|test|features``.

Any config field can be overridden as ``--config.a.b=value``; an unknown field is an error
that names the closest valid keys.
"""

from __future__ import annotations

import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:arg].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoints, logs and results go here.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval", "test", "features"],
                          "train: train with periodic evaluation (resumes from the workdir); "
                          "eval: one pass over data.val; test: multi-view test over data.test; "
                          "features: data.test through the test pipeline, writing each video's "
                          "pooled backbone features to test.out (MMAction2's "
                          "test_cfg.feature_extraction).")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None,
                                  "eval/test: a checkpoint directory (default: latest in workdir).")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False,
                                 "Call jax.distributed.initialize() (multi-host): the "
                                 "coordinator comes from --coordinator/--num_processes/"
                                 "--process_id where given, else from the TPU, SLURM or "
                                 "JAX_COORDINATOR_ADDRESS environment.")
_COORDINATOR = flags.DEFINE_string("coordinator", None,
                                   "--distributed: the coordinator's HOST:PORT (process 0's).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None,
                                      "--distributed: how many processes take part.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "--distributed: this process's index.")
_TEST_BEST = flags.DEFINE_bool("test_best", False,
                               "train: afterwards test the best checkpoint "
                               "(evaluation.save_best) on data.test, as MMAction2's --test-best.")
_TEST_LAST = flags.DEFINE_bool("test_last", False,
                               "train: afterwards test the last checkpoint on data.test, as "
                               "MMAction2's --test-last.")
flags.mark_flags_as_required(["config", "workdir"])


def _precheck_overrides(argv: list[str]) -> None:
  """Validates ``--config.*`` overrides before absl does, for a message that helps."""
  path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
  if path is None:
    return
  from vjax.config import check_overrides, load_config
  try:
    check_overrides(load_config(path), argv)
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")


def main(argv):
  del argv
  import jax
  from vjax.train.logging import log_to_workdir
  explicit = (_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  if any(v is not None for v in explicit) and not _DISTRIBUTED.value:
    sys.exit("error: --coordinator, --num_processes and --process_id take effect with "
             "--distributed; add it")
  log_to_workdir(None)  # before jax starts its backends, which log at INFO
  if _DISTRIBUTED.value:
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value,
                               num_processes=_NUM_PROCESSES.value, process_id=_PROCESS_ID.value)
  log_file = log_to_workdir(_WORKDIR.value, write=jax.process_index() == 0)
  if log_file:
    print(f"vjax: logs (incl. third-party INFO) go to {log_file}")
  config = _CONFIG.value
  try:
    results = _run(config)
  except FileNotFoundError as e:  # missing dataset, annotation file or checkpoint
    sys.exit(f"error: {e}")
  if _MODE.value == "features":
    if jax.process_index() == 0:
      print(f"Wrote {results['num_features']} feature vectors of size {results['features_dim']} "
            f"to {config.test.out}")
    return
  if jax.process_index() == 0 and results:
    print("Final " + ("val" if _MODE.value != "test" else "test") + " results: " +
          ", ".join(f"{k}={v:.4f}" for k, v in results.items()))


def _run(config):
  import jax
  from vjax.train import loop
  logging.info("jax %s, %d processes, %d devices (%s)", jax.__version__, jax.process_count(),
               jax.device_count(), jax.devices()[0].platform)
  if _MODE.value == "train":
    results = loop.train_and_evaluate(config, _WORKDIR.value)
    for which, wanted in (("last", _TEST_LAST.value), ("best", _TEST_BEST.value)):
      if wanted:
        ckpt = loop.checkpoint_dir(_WORKDIR.value, which)
        tested = loop.evaluate_only(config, _WORKDIR.value, split="test", checkpoint=ckpt)
        if jax.process_index() == 0:
          print(f"Test results of the {which} checkpoint ({ckpt}): " +
                ", ".join(f"{k}={v:.4f}" for k, v in tested.items()))
    return results
  return loop.evaluate_only(config, _WORKDIR.value,
                            split="val" if _MODE.value == "eval" else "test",
                            checkpoint=_CHECKPOINT.value,
                            predictor="features" if _MODE.value == "features" else None)


if __name__ == "__main__":
  from vjax.train.host_memory import reexec_for_cpu
  reexec_for_cpu()
  _precheck_overrides(sys.argv)
  app.run(main)
