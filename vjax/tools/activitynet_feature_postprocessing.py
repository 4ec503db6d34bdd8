"""ActivityNet's per-video feature files for the localizers (MMAction2's
tools/data/activitynet/activitynet_feature_postprocessing.py).

    python -m vjax.tools.activitynet_feature_postprocessing --rgb RGB_DIR --flow FLOW_DIR
        --dest DEST [--output-format csv|pkl] [--temporal-dim 100] [--num-workers 4]

Every feature file of ``--rgb`` (``tsn_feature_extraction``'s ``.pkl``, or a ``.npy`` of
``clip_feature_extraction``) and its namesake in ``--flow`` (both folders must list the same
names, as MMAction2 asserts) is a (T, C) sequence; each is rescaled to ``--temporal-dim``
steps (``vjax.localization.features.rescale_features``, MMAction2's ``pool_feature``) and the
two are concatenated, RGB first. ``csv`` writes ``DEST/<name>.csv`` as MMAction2 does: a
header row ``f0,...`` and one row per step, values with 4 decimals, no final newline (what
``LoadLocalizationFeature`` reads; 100 rows of 400 columns for the 200-class TSN scores);
``pkl`` writes the float64 array pickled as ``DEST/<name>.pkl``. MMAction2's header always
names 400 columns; here it names the columns there are. With only one of ``--rgb`` /
``--flow`` its features are written alone.
"""

from __future__ import annotations

import argparse
import functools
import os
import os.path as osp
import pickle

import numpy as np

from vjax.data import safe_pickle
from vjax.localization.features import rescale_features
from vjax.tools import _batch

FEATURE_EXTS = (".pkl", ".npy")


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="ANet Feature Prepare")
  parser.add_argument("--rgb", default="", help="rgb feature root")
  parser.add_argument("--flow", default="", help="flow feature root")
  parser.add_argument("--dest", default="", help="dest root")
  parser.add_argument("--output-format", default="csv", choices=["csv", "pkl"])
  parser.add_argument("--temporal-dim", type=int, default=100,
                      help="steps per video after rescaling (MMAction2: 100)")
  parser.add_argument("--num-workers", type=int, default=4, help="worker processes")
  args = parser.parse_args(argv)
  if not args.rgb and not args.flow:
    parser.error("give --rgb and/or --flow")
  return args


def load_features(path: str) -> np.ndarray:
  """A (T, C) feature file: a pickled array (or list of rows), or a ``.npy``."""
  if path.endswith(".npy"):
    return np.load(path, allow_pickle=False)
  return np.asarray(safe_pickle.load(path))


def feature_csv(feat: np.ndarray) -> str:
  """MMAction2's csv text: header ``f0..f{C-1}``, rows of ``%.4f`` values, no final newline."""
  lines = [",".join(f"f{i}" for i in range(feat.shape[1]))]
  lines += [",".join(f"{x:.4f}" for x in row) for row in feat.tolist()]
  return "\n".join(lines)


def feature_names(args) -> list[str]:
  roots = [r for r in (args.rgb, args.flow) if r]
  listed = [{n for n in os.listdir(r) if n.endswith(FEATURE_EXTS)} for r in roots]
  if len(listed) == 2 and listed[0] != listed[1]:
    only_rgb, only_flow = sorted(listed[0] - listed[1]), sorted(listed[1] - listed[0])
    raise ValueError(f"--rgb {args.rgb} and --flow {args.flow} must hold the same files; "
                     f"only in rgb: {only_rgb[:5]}, only in flow: {only_flow[:5]}")
  return sorted(listed[0])


def merge_one(args, name: str) -> str:
  feats = [rescale_features(load_features(osp.join(root, name)), args.temporal_dim)
           for root in (args.rgb, args.flow) if root]
  feat = np.concatenate(feats, axis=-1)
  if args.output_format == "pkl":
    _batch.write_bytes(osp.join(args.dest, osp.splitext(name)[0] + ".pkl"), pickle.dumps(feat))
  else:
    out = osp.join(args.dest, osp.splitext(name)[0] + ".csv")
    _batch.write_bytes(out, feature_csv(feat).encode())
  return "done"


def main(argv=None) -> int:
  args = parse_args(argv)
  names = feature_names(args)
  os.makedirs(args.dest or ".", exist_ok=True)
  failures = _batch.run(functools.partial(merge_one, args), names, args.num_workers,
                        "activitynet_feature_postprocessing")
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.activitynet_feature_postprocessing")
