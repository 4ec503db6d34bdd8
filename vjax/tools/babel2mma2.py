"""BABEL's action-recognition release -> MMAction2 pose annotation files (MMAction2's
tools/data/skeleton/babel2mma2.py).

    python -m vjax.tools.babel2mma2 --data-dir data/babel [--out-dir data/babel]

BABEL (babel.is.tue.mpg.de) cuts its action segments into 5-second chunks of AMASS mocap at
30 fps, as 25 NTU RGB+D joints, and releases them pre-processed (``babel_feats_labels.tar.gz``)
per split and label set: ``{train,val}_ntu_sk_{60,120}.npy`` (N, 3, 150, 25, persons) and
``{train,val}_label_{60,120}.pkl`` = ``(segment ids, (labels, sequence ids, chunk numbers,
annotator ids))``. For every such pair in ``--data-dir`` this writes ``babel{60,120}_{train,
val}.pkl`` (the files MMAction2's BABEL configs read): a list, per chunk, of ``{'keypoint'
(persons, 150, 25, 3) float16, 'label', 'frame_dir' ('<segment id>_<sequence id>_<chunk
number>_<annotator id>'), 'total_frames'}``. ``--data-path``/``--label-path``/``--out-file``
convert one pair (MMAction2's script converts train_ntu_sk_120.npy + train_label_120.pkl to
babel120_train.pkl, its only case). ``total_frames`` is the chunks' length, 150 in BABEL's
release (MMAction2 writes 150 whatever the length).
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import pickle
import sys

import numpy as np

from vjax.data import safe_pickle

SPLITS = ("train", "val")
LABEL_SETS = (60, 120)



def convert(data: np.ndarray, labels) -> list[dict]:
  """Chunks (N, C, T, V, M) and their label tuple -> MMAction2's entries."""
  try:
    names, (classes, sequences, chunks, annotators) = labels[0], labels[1][:4]
  except (TypeError, ValueError, IndexError) as e:
    raise ValueError("the label file must hold (segment ids, (labels, sequence ids, chunk "
                     f"numbers, annotator ids)) as BABEL releases it: {e}") from None
  if data.ndim != 5:
    raise ValueError(f"the skeleton array has shape {data.shape}, expected (chunks, 3, frames, "
                     "25, persons)")
  if not len(data) == len(names) == len(classes) == len(sequences) == len(chunks) == len(
      annotators):
    raise ValueError(f"{len(data)} chunks but {len(names)} segment ids / {len(classes)} labels")
  out = []
  for i, chunk in enumerate(data):
    ids = (names[i], sequences[i], chunks[i], annotators[i])
    out.append({"keypoint": np.asarray(chunk).transpose(3, 1, 2, 0).astype(np.float16),
                "label": int(classes[i]), "frame_dir": "_".join(str(k) for k in ids),
                "total_frames": int(chunk.shape[1])})
  return out


def convert_files(data_path: str, label_path: str, out_file: str) -> list[dict]:
  for path in (data_path, label_path):
    if not osp.isfile(path):
      raise FileNotFoundError(f"{path} does not exist (BABEL's babel_feats_labels.tar.gz holds "
                              "it)")
  try:
    entries = convert(np.load(data_path, mmap_mode="r"), safe_pickle.load(label_path))
  except ValueError as e:
    raise ValueError(f"{data_path} + {label_path}: {e}") from None
  os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
  with open(out_file + ".incomplete", "wb") as f:
    pickle.dump(entries, f, protocol=4)
  os.replace(out_file + ".incomplete", out_file)
  print(f"{len(entries)} chunks -> {out_file}")
  return entries


def convert_folder(data_dir: str, out_dir: str | None = None) -> dict[str, list[dict]]:
  """Every ``{split}_ntu_sk_{n}.npy`` + ``{split}_label_{n}.pkl`` of ``data_dir`` ->
  ``out_dir/babel{n}_{split}.pkl``; returns ``{output name: entries}``."""
  out = {}
  for n in LABEL_SETS:
    for split in SPLITS:
      data, labels = (osp.join(data_dir, f"{split}_ntu_sk_{n}.npy"),
                      osp.join(data_dir, f"{split}_label_{n}.pkl"))
      if osp.isfile(data) and osp.isfile(labels):
        name = f"babel{n}_{split}.pkl"
        out[name] = convert_files(data, labels, osp.join(out_dir or data_dir, name))
  if not out:
    raise FileNotFoundError(f"{data_dir} holds no pair of {{train,val}}_ntu_sk_{{60,120}}.npy and "
                            "{train,val}_label_{60,120}.pkl (extract BABEL's "
                            "babel_feats_labels.tar.gz there)")
  return out


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description="Convert BABEL's skeleton chunks to MMAction2's "
                                   "pose annotation format")
  parser.add_argument("--data-dir", default=".", help="folder of BABEL's .npy / .pkl files")
  parser.add_argument("--out-dir", default=None, help="output folder (default: --data-dir)")
  parser.add_argument("--data-path", default=None, help="one skeleton array to convert")
  parser.add_argument("--label-path", default=None, help="its label file")
  parser.add_argument("--out-file", default=None, help="its output pickle")
  return parser.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  single = (args.data_path, args.label_path, args.out_file)
  try:
    if any(single):
      if not all(single):
        raise ValueError("--data-path, --label-path and --out-file go together")
      convert_files(*single)
    else:
      convert_folder(args.data_dir, args.out_dir)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"vjax: {e}")


if __name__ == "__main__":
  main(sys.argv[1:])
