"""BSN's proposal generation module (PGM), MMAction2's tools/misc/bsn_proposal_generation.py.

    python -m vjax.tools.bsn_proposal_generation configs/bsn_pgm_activitynet.py --mode train
    python -m vjax.tools.bsn_proposal_generation configs/bsn_pgm_activitynet.py:synthetic \\
        --mode test [--cfg-options tem_results_dir=DIR pgm_proposals_dir=DIR ...]

Reads the TEM results (``tem_results_dir/<video>.csv``, written by the TEM config's test run),
writes candidate proposals to ``pgm_proposals_dir/<video>.csv`` and their BSP features to
``pgm_features_dir/<video>.npy``, for the training videos (``--mode train``, with
``pgm_features_train_cfg``) or the validation videos (``--mode test``, with
``pgm_features_test_cfg``), which the PEM config then loads with ``LoadProposals``.

The videos are the config's ``ann_file_train`` / ``ann_file_val`` (MMAction2's keys), or when
it names none, the ``video_infos`` of its ``data.train`` / ``data.val`` datasets (a TFDS
dataset such as ``vjax_synthetic_localization``). CONFIG is a vjax config (``path.py[:arg]``)
or an MMAction2 config file.
"""

from __future__ import annotations

import argparse
import ast
import time

from vjax.convert.mmaction2_config import load_any_config
from vjax.localization.pgm import generate_features, generate_proposals

_SPLIT = {"train": ("ann_file_train", "train", "pgm_features_train_cfg"),
          "test": ("ann_file_val", "val", "pgm_features_test_cfg")}
_REQUIRED = ("tem_results_dir", "pgm_proposals_dir", "pgm_features_dir", "pgm_proposals_cfg")


def _value(text: str):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def apply_options(config, options) -> None:
  """``key=value`` overrides (dotted keys; values as Python literals, else strings)."""
  for option in options or ():
    key, sep, value = option.partition("=")
    if not sep:
      raise ValueError(f"--cfg-options {option!r}: expected key=value")
    *parents, last = key.split(".")
    node = config
    for p in parents:
      node = node[p]
    if last not in node:
      raise KeyError(f"--cfg-options {key}: no such field in the config")
    node[last] = _value(value)


def video_infos(config, mode: str):
  """The annotation file (MMAction2's key) or the data split's dataset ``video_infos``."""
  ann_key, split, _ = _SPLIT[mode]
  ann_file = config.get(ann_key)
  if ann_file:
    return ann_file
  if split not in config.get("data", {}):
    raise KeyError(f"the config names no {ann_key} and no data.{split} dataset: BSN's PGM "
                   "needs the videos to generate proposals for")
  from vjax.data import sources  # pylint: disable=g-import-not-at-top
  source, _ = sources.build_split(config.data[split])
  infos = getattr(source, "video_infos", None)
  if infos is None:
    raise TypeError(f"data.{split} ({type(source).__name__}) has no video_infos; set "
                    f"{ann_key} to an ActivityNet annotation JSON")
  return list(infos)


def run(config, mode: str) -> dict[str, int]:
  """Generates proposals and BSP features for ``mode``'s videos; returns their counts."""
  missing = [k for k in _REQUIRED + (_SPLIT[mode][2],) if not config.get(k)]
  if missing:
    raise KeyError(f"the config lacks {missing}: use a BSN PGM config such as "
                   "configs/bsn_pgm_activitynet.py")
  videos = video_infos(config, mode)
  proposals = generate_proposals(videos, config.tem_results_dir, config.pgm_proposals_dir,
                                 **dict(config.pgm_proposals_cfg))
  print(f"PGM: proposals of {len(proposals)} videos in {config.pgm_proposals_dir}")
  features = generate_features(videos, config.tem_results_dir, config.pgm_proposals_dir,
                               config.pgm_features_dir, **dict(config[_SPLIT[mode][2]]))
  print(f"PGM: BSP features of {len(features)} videos in {config.pgm_features_dir}")
  return {"proposals": len(proposals), "features": len(features)}


def main(argv=None) -> dict[str, int]:
  parser = argparse.ArgumentParser(description="BSN proposal generation module (PGM)")
  parser.add_argument("config", help="vjax config (path.py[:arg]) or MMAction2 config file")
  parser.add_argument("--mode", choices=["train", "test"], default="test",
                      help="the training videos (train) or the validation videos (test)")
  parser.add_argument("--cfg-options", nargs="*", default=[], metavar="KEY=VALUE",
                      help="override config fields, e.g. tem_results_dir=work/tem_results")
  args = parser.parse_args(argv)
  config = load_any_config(args.config)
  apply_options(config, args.cfg_options)
  start = time.time()
  counts = run(config, args.mode)
  print(f"PGM ({args.mode}) done in {time.time() - start:.1f} s")
  return counts


if __name__ == "__main__":
  main()
