"""``vjax_synthetic_audio``: class-coded spectrograms in MMAction2's audio-feature layout
(``.npy`` files + annotation lists), read by vjax's ``AudioFeatureDataset``."""

from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np

SYNTHETIC_AUDIO_NAME = "vjax_synthetic_audio"


def synthetic_audio_features(label: int, length: int, num_bins: int, num_classes: int,
                             rng: np.random.Generator) -> np.ndarray:
  """One clip of a class-coded spectrogram, float32 (length, num_bins) in [0, 1].

  Class ``k`` is a tone sweeping up (even ``k``) or down (odd ``k``) and repeating every
  16-40 rows, around band ``k // 2`` of ``num_classes // 2`` equal bands. One or two
  steady tones at random bins and uniform noise are the same for every class, so neither
  the band's energy nor any single row tells the class; the direction of the sweep does.
  """
  bands = max(num_classes // 2, 1)
  bins = np.arange(num_bins, dtype=np.float32)
  t = np.arange(length, dtype=np.float32)
  out = 0.1 + 0.15 * rng.random((length, num_bins), dtype=np.float32)
  band_width = num_bins / bands
  centre = (label // 2 + 0.5) * band_width
  period = rng.uniform(16, 40)
  phase = ((t + rng.uniform(0, period)) % period) / period - 0.5  # -0.5..0.5 per period
  sweep = centre + (1 if label % 2 == 0 else -1) * phase * 0.8 * band_width
  out += rng.uniform(0.4, 0.7) * np.exp(-0.5 * ((bins[None] - sweep[:, None]) / 1.2)**2)
  for _ in range(rng.integers(1, 3)):
    out += rng.uniform(0.3, 0.6) * np.exp(-0.5 * ((bins - rng.uniform(0, num_bins)) / 1.2)**2)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


def prepare_synthetic_audio(data_dir: str | None = None, num_classes: int = 8,
                            num_train: int = 480, num_val: int = 96, num_bins: int = 40,
                            min_length: int = 200, max_length: int = 320,
                            seed: int = 0) -> str:
  """Writes (once) a deterministic audio-feature dataset in MMAction2's layout and returns
  its folder: ``{split}/audio_NNNN.npy`` files and ``{split}_list_audio_feature.txt`` lists
  (``name total_frames label``, the suffix left to AudioFeatureDataset) for the splits
  'train' and 'val'. ``total_frames`` is the length of a 30 fps video for a 64 rows/s
  spectrogram. ``data_dir`` defaults to ``~/.cache/vjax``."""
  options = dict(num_classes=num_classes, num_train=num_train, num_val=num_val,
                 num_bins=num_bins, min_length=min_length, max_length=max_length, seed=seed)
  if min(num_classes, num_train, num_val, num_bins) < 1 or not 0 < min_length <= max_length:
    raise ValueError(f"{SYNTHETIC_AUDIO_NAME}: options {options} need num_classes, num_train, "
                     "num_val and num_bins >= 1 and 0 < min_length <= max_length")
  name = (f"c{num_classes}_n{num_train}-{num_val}_f{num_bins}_l{min_length}-{max_length}"
          f"_s{seed}")
  root = osp.join(osp.expanduser(data_dir or "~/.cache/vjax"), SYNTHETIC_AUDIO_NAME, name)
  if osp.isfile(osp.join(root, "DONE")):
    return root
  tmp = f"{root}.tmp{os.getpid()}"
  for split, count in (("train", num_train), ("val", num_val)):
    os.makedirs(osp.join(tmp, split), exist_ok=True)
    lines = []
    for i in range(count):
      rng = np.random.default_rng([seed, 0 if split == "train" else 1, i])
      label = i % num_classes
      length = int(rng.integers(min_length, max_length + 1))
      np.save(osp.join(tmp, split, f"audio_{i:04d}.npy"),
              synthetic_audio_features(label, length, num_bins, num_classes, rng))
      lines.append(f"audio_{i:04d} {round(length * 30 / 64)} {label}\n")
    with open(osp.join(tmp, f"{split}_list_audio_feature.txt"), "w") as f:
      f.writelines(lines)
  with open(osp.join(tmp, "DONE"), "w") as f:
    json.dump(options, f)
  try:
    os.rename(tmp, root)
  except OSError:  # another process finished first; its copy is identical
    if not osp.isfile(osp.join(root, "DONE")):
      raise
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(tmp, ignore_errors=True)
  return root
