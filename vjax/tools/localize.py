"""From one video file to temporal action proposals, on one machine with no launcher.

    python -m vjax.tools.localize VIDEO --recognizer-config REC_CONFIG [--recognizer-checkpoint X] \\
        --localizer-config configs/bmn_activitynet.py [--localizer-checkpoint Y] \\
        --out proposals.json [--clip-len 1 --frame-interval 1 --clip-interval 16]

The chain MMAction2 spreads over three scripts and a distributed test launcher: a
recognizer's backbone pools one feature per clip taken every ``--clip-interval`` frames
(``vjax.localization.features.video_features``, as ``clip_feature_extraction``), the
sequence is rescaled to the localizer's ``temporal_dim`` steps (as ActivityNet's feature
post-processing), and the localizer's test forward and post-processing turn it into
proposals in seconds, written as MMAction2's proposal result JSON (``{"version", "results":
{video id: [{"score", "segment"}, ...]}, "external_data"}``) and printed best first.

The localizer is BMN (proposals in one network). The recognizer's feature width must equal
the localizer's ``feat_dim``: a checkpoint trained on features of another recognizer will
not read these. Configs are vjax configs (``path.py[:arg]``) or MMAction2 config files;
checkpoints MMAction2 ``.pth`` files or vjax checkpoint directories (random weights
without, for trying the chain out).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from vjax.data import media
from vjax.inference import init_localizer, init_recognizer
from vjax.localization.features import rescale_features, video_features
from vjax.localization.results import dump_results


def video_meta(video: str, num_frames: int, fps: float, feature_extraction_interval: int,
               ) -> dict:
  """ActivityNet's per-video fields for one file: its name, length in seconds and frames,
  and the frames the features cover (whole ``feature_extraction_interval`` chunks)."""
  name = os.path.splitext(os.path.basename(video))[0]
  return {"video_name": name if name.startswith("v_") else f"v_{name}",
          "duration_second": num_frames / fps, "duration_frame": num_frames,
          "feature_frame": num_frames // feature_extraction_interval
                           * feature_extraction_interval}


def localize(video: str, recognizer, localizer, *, clip_len: int = 1, frame_interval: int = 1,
             clip_interval: int = 16, batch_size: int = 16) -> dict:
  """``{'video_name', 'proposal_list'}`` of ``video``, proposals in seconds, best first."""
  model_cfg = localizer.config.model
  if "temporal_dim" not in model_cfg or "feat_dim" not in model_cfg:
    raise ValueError(f"--localizer-config is a {model_cfg.get('type')} config; localize runs "
                     "BMN (a proposal network over feature sequences)")
  features = video_features(recognizer, video, clip_len=clip_len, frame_interval=frame_interval,
                            clip_interval=clip_interval, batch_size=batch_size)
  if features.shape[1] != model_cfg.feat_dim:
    raise ValueError(f"the recognizer gives {features.shape[1]}-channel features but the "
                     f"localizer reads feat_dim={model_cfg.feat_dim}: use a localizer trained "
                     "on this recognizer's features (or matching configs)")
  sequence = rescale_features(features, model_cfg.temporal_dim)
  info = media.probe(video)
  meta = video_meta(video, info.num_frames, info.fps,
                    model_cfg.get("feature_extraction_interval", 16))
  (result,) = localizer.predict({"raw_feature": np.asarray(sequence, np.float32).T}, meta)
  return result


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description="Temporal action proposals of one video")
  parser.add_argument("video")
  parser.add_argument("--recognizer-config", required=True,
                      help="feature extractor: vjax config (path.py[:arg]) or MMAction2 config")
  parser.add_argument("--recognizer-checkpoint", default=None)
  parser.add_argument("--localizer-config", required=True, help="BMN config")
  parser.add_argument("--localizer-checkpoint", default=None)
  parser.add_argument("--out", default="proposals.json", help="proposal result JSON")
  parser.add_argument("--clip-len", type=int, default=1, help="frames per clip")
  parser.add_argument("--frame-interval", type=int, default=1, help="frame step in a clip")
  parser.add_argument("--clip-interval", type=int, default=16,
                      help="frames between clip starts (MMAction2's features: 16)")
  parser.add_argument("--batch-size", type=int, default=16, help="clips per forward")
  parser.add_argument("--top", type=int, default=5, help="proposals to print")
  args = parser.parse_args(argv)
  start = time.time()
  recognizer = init_recognizer(args.recognizer_config, args.recognizer_checkpoint)
  localizer = init_localizer(args.localizer_config, args.localizer_checkpoint)
  result = localize(args.video, recognizer, localizer, clip_len=args.clip_len,
                    frame_interval=args.frame_interval, clip_interval=args.clip_interval,
                    batch_size=args.batch_size)
  dump_results([result], args.out, "json")
  print(f"{len(result['proposal_list'])} proposals for {args.video} in "
        f"{time.time() - start:.1f} s -> {args.out}")
  for p in result["proposal_list"][:args.top]:
    print(f"  {p['segment'][0]:8.2f} s - {p['segment'][1]:8.2f} s  score {p['score']:.4f}")
  return result


if __name__ == "__main__":
  main()
