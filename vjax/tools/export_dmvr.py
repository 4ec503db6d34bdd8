"""Export a built dataset as DMVR-style ``tf.train.SequenceExample`` TFRecords, the form scenic's
and DMVR's video readers consume: ``python -m vjax.tools.export_dmvr NAME --data_dir=DIR
--config=frames_256 --split=train --out_dir=OUT [--num_shards=N]``.

Each video becomes one SequenceExample: the context holds ``clip/data_path`` (its id),
``clip/start/timestamp`` and ``clip/end/timestamp`` (microseconds), ``clip/label/index`` (its
class, or classes) and ``clip/label/string``; the feature list ``image/encoded`` holds its JPEG
frames, unchanged. No TensorFlow needed (TFDS's vendored protos, vjax's TFRecord writer).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def sequence_example(results: dict, class_names: list[str] | None) -> bytes:
  """One TFDSDataset record (a ``frames_*`` config's) as a serialized SequenceExample."""
  from tensorflow_datasets.proto import tf_example_pb2 as pb  # pylint: disable=g-import-not-at-top
  if "frames_bytes" not in results or results.get("modality", "RGB") != "RGB":
    raise ValueError("DMVR export needs a frames_* config (JPEG frames); this dataset stores "
                     f"{'flow' if results.get('modality') == 'Flow' else 'video bytes or features'}")
  label = results.get("label")
  if isinstance(label, np.ndarray):  # multi-hot (multi-label datasets)
    labels = [int(i) for i in np.flatnonzero(label)]
  else:
    labels = [] if label is None or int(label) < 0 else [int(label)]
  ex = pb.SequenceExample()
  ctx = ex.context.feature
  ctx["clip/data_path"].bytes_list.value.append(str(results["video_id"]).encode())
  ctx["clip/start/timestamp"].int64_list.value.append(0)
  duration = results["total_frames"] / results["fps"] if results.get("fps") else 0.0
  ctx["clip/end/timestamp"].int64_list.value.append(int(round(duration * 1e6)))
  ctx["clip/label/index"].int64_list.value.extend(labels)
  if class_names:
    ctx["clip/label/string"].bytes_list.value.extend(class_names[i].encode() for i in labels)
  frames = ex.feature_lists.feature_list["image/encoded"]
  for data in results["frames_bytes"]:
    frames.feature.add().bytes_list.value.append(bytes(data))
  return ex.SerializeToString()


def export(name: str, data_dir: str | None, config: str | None, split: str, out_dir: str,
           num_shards: int = 1) -> list[str]:
  """Writes ``out_dir/<name>-<split>.tfrecord-0000i-of-0000n``; returns their paths."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  from vjax.data import tfrecord  # pylint: disable=g-import-not-at-top
  from vjax.data.sources.tfds_records import TFDSDataset  # pylint: disable=g-import-not-at-top
  ds = TFDSDataset(name, split, data_dir, builder_config=config)
  os.makedirs(out_dir, exist_ok=True)
  bounds = np.linspace(0, len(ds), num_shards + 1).astype(int)
  paths = []
  with tqdm(total=len(ds), unit=" videos", desc="vjax: DMVR export") as bar:
    for i in range(num_shards):
      path = os.path.join(out_dir, f"{name}-{split}.tfrecord-{i:05d}-of-{num_shards:05d}")

      def records(lo=bounds[i], hi=bounds[i + 1]):
        for j in range(lo, hi):
          yield sequence_example(ds[j], ds.class_names)
          bar.update(1)

      tfrecord.write(path + ".incomplete", records())
      os.replace(path + ".incomplete", path)
      paths.append(path)
  return paths


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("name")
  p.add_argument("--data_dir", default=None)
  p.add_argument("--config", default=None, help="a frames_* config of the dataset")
  p.add_argument("--split", default="train")
  p.add_argument("--out_dir", required=True)
  p.add_argument("--num_shards", type=int, default=1)
  args = p.parse_args(argv)
  try:
    paths = export(args.name, args.data_dir, args.config, args.split, args.out_dir,
                   args.num_shards)
  except (FileNotFoundError, KeyError, ValueError) as e:
    sys.exit(f"vjax: {e}")
  print(f"vjax: wrote {len(paths)} shard(s) to {args.out_dir}")


if __name__ == "__main__":
  main()
