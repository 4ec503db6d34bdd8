"""ActivityNet's TSN features of rawframe folders (MMAction2's
tools/data/activitynet/tsn_feature_extraction.py).

    python -m vjax.tools.tsn_feature_extraction --data-prefix DATA --data-list LIST
        --output-prefix OUT [--modality RGB|Flow] [--ckpt CKPT] [--frame-interval 16]
        [--part 0 --total 1] [--batch-size 200] [--config CONFIG]

Each line of LIST is ``frame_dir num_frames ...``; ``DATA/frame_dir`` holds its frames as
``img_{:05d}.jpg`` (RGB) or ``flow_{x,y}_{:05d}.jpg`` (Flow), read with ``start_index=0`` and
the list's frame count, as MMAction2 reads them. Clips are centred every ``--frame-interval``
frames (one frame for RGB, five stacked flow frames for Flow), resized to a short side of 256
and centre-cropped to 256, and go through MMAction2's ActivityNet TSN (ResNet-50 + TSNHead of
200 classes, ``average_clips=None``) loaded from ``--ckpt`` (an MMAction2 ``.pth``; random
weights without): ``OUT/<basename of frame_dir>.pkl`` is the pickled float32
``(num_clips, 200)`` array of per-clip class scores, MMAction2's file. ``--config`` swaps in
another recognizer (a vjax config or MMAction2 config file): its model and test pipeline
after the sampler (decoding from the frame folders), its head's scores (pooled features for
a model without a head). ``--part/--total`` process ``lines[part::total]``. A folder that
fails is reported and the others go on; the run ends with a summary.
"""

from __future__ import annotations

import argparse
import functools
import os
import os.path as osp
import pickle

import ml_collections

from vjax.config import IMAGENET_NORM, default_config
from vjax.data.media import atomic_output
from vjax.data.video_inputs import split_config
from vjax.inference import Recognizer, init_recognizer
from vjax.localization.features import video_features
from vjax.tools import _batch
from vjax.tools.clip_feature_extraction import load_recognizer

FRAME_TMPL = {"RGB": "img_{:05d}.jpg", "Flow": "flow_{}_{:05d}.jpg"}
CLIP_LEN = {"RGB": 1, "Flow": 5}  # Flow stacks 5 (x, y) frames as 10 input channels
FLOW_NORM = dict(mean=[128, 128], std=[128, 128])


def parse_args(argv=None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description="Extract TSN Feature")
  parser.add_argument("--data-prefix", default="", help="dataset prefix")
  parser.add_argument("--output-prefix", default="", help="output prefix")
  parser.add_argument("--data-list", required=True,
                      help="video list of the dataset: `frame_dir num_frames output_file` lines")
  parser.add_argument("--frame-interval", type=int, default=16,
                      help="frames between the sampled clips of the untrimmed video")
  parser.add_argument("--modality", default="RGB", choices=["RGB", "Flow"])
  parser.add_argument("--ckpt", help="checkpoint for feature extraction (default: random)")
  parser.add_argument("--part", type=int, default=0,
                      help="which part of dataset to forward (alldata[part::total])")
  parser.add_argument("--total", type=int, default=1, help="how many parts exist")
  parser.add_argument("--batch-size", type=int, default=200, help="clips per forward")
  parser.add_argument("--config", default=None,
                      help="a vjax or MMAction2 config whose recognizer replaces the TSN R50")
  return parser.parse_args(argv)


def tsn_config(modality: str) -> ml_collections.ConfigDict:
  """MMAction2's ActivityNet feature extractor and untrimmed rawframe pipeline."""
  clip_len = CLIP_LEN[modality]
  c = default_config()
  c.model = dict(
      type="Recognizer2D",
      backbone=dict(type="ResNet", depth=50, in_channels=clip_len * (3 if modality == "RGB"
                                                                     else 2), norm_eval=False),
      cls_head=dict(type="TSNHead", num_classes=200, in_channels=2048, spatial_type="avg",
                    consensus=dict(type="AvgConsensus", dim=1)),
      test_cfg=dict(average_clips=None))
  pipeline = [dict(type="UntrimmedSampleFrames", clip_len=clip_len, frame_interval=16),
              dict(type="RawFrameDecode"), dict(type="Resize", scale=(-1, 256)),
              dict(type="CenterCrop", crop_size=256)]
  if modality == "RGB":
    c.data.img_norm_cfg = IMAGENET_NORM  # normalised on the device
  else:  # a Flow Normalize stays on the host (2 channels, before stacking)
    c.data.img_norm_cfg = None
    pipeline.append(dict(type="Normalize", **FLOW_NORM))
  pipeline += [dict(type="FormatShape", input_format="NCHW" if modality == "RGB"
                    else "NCHW_Flow"),
               dict(type="Collect", keys=["imgs"], meta_keys=[])]
  c.data.test = dict(type="RawframeDataset", ann_file="", data_prefix="", pipeline=pipeline,
                     modality=modality, filename_tmpl=FRAME_TMPL[modality], start_index=0)
  return c


def frame_split(config, modality: str) -> dict:
  """The config's test split reading rawframe folders: Init ops dropped, the decoder
  ``RawFrameDecode``, MMAction2's frame names and ``start_index=0``."""
  split = split_config(config)
  ops = [dict(type="RawFrameDecode") if "Decode" in op["type"] else op
         for op in split.get("pipeline") or [] if "Init" not in op["type"]]
  return dict(split, pipeline=ops, modality=modality, filename_tmpl=FRAME_TMPL[modality],
              start_index=0)


def build_recognizer(args) -> Recognizer:
  if args.config is None:
    clip_len = CLIP_LEN[args.modality]
    channels = clip_len * (3 if args.modality == "RGB" else 2)
    return init_recognizer(tsn_config(args.modality), args.ckpt,
                           input_shape=(1, 1, 256, 256, channels))
  return load_recognizer(args.config, args.ckpt)


def read_data_list(path: str) -> list[tuple[str, int]]:
  """(frame_dir, num_frames) of each line ``frame_dir num_frames [output_file]``."""
  items = []
  with open(path) as f:
    for n, line in enumerate(f, 1):
      if not line.strip():
        continue
      parts = line.split()
      if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"{path}:{n}: expected `frame_dir num_frames output_file`, got "
                         f"{line.strip()!r}")
      items.append((parts[0], int(parts[1])))
  return items


def extract_one(recognizer, split, args, lengths: dict[str, int], frame_dir: str) -> str:
  video = dict(frame_dir=osp.join(args.data_prefix, frame_dir), total_frames=lengths[frame_dir],
               filename_tmpl=split["filename_tmpl"], start_index=0, modality=args.modality,
               label=-1)
  feat = video_features(recognizer, video, clip_len=CLIP_LEN[args.modality], frame_interval=1,
                        clip_interval=args.frame_interval, batch_size=args.batch_size,
                        output="predict", split=split)
  out = osp.join(args.output_prefix, osp.basename(osp.normpath(frame_dir)) + ".pkl")
  with atomic_output(out) as tmp:
    with open(tmp, "wb") as f:
      pickle.dump(feat, f)
  return "done"


def main(argv=None) -> int:
  args = parse_args(argv)
  data = read_data_list(args.data_list)[args.part::args.total]
  recognizer = build_recognizer(args)
  if args.config is None:
    split = split_config(recognizer.config)
  else:
    split = frame_split(recognizer.config, args.modality)
  os.makedirs(args.output_prefix or ".", exist_ok=True)
  lengths = dict(data)
  job = functools.partial(extract_one, recognizer, split, args, lengths)
  failures = _batch.run(job, [d for d, _ in data], 1, "tsn_feature_extraction")
  return 1 if failures else 0


if __name__ == "__main__":
  _batch.run_tool("vjax.tools.tsn_feature_extraction")
