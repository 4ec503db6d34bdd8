"""The vjax_synthetic TFDS builder and its generator: determinism, layout, motion-only classes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tfds_builders.vjax_synthetic import builder as syn
from tfds_builders.vjax_synthetic import generate
from vjax.data import TFDSDataset


def test_build_tiny_layout_and_labels(tiny_data_dir):
  cfg = syn.make_config("tiny")
  for split, n in (("train", cfg.num_train), ("validation", cfg.num_val)):
    ds = TFDSDataset("vjax_synthetic", split, data_dir=tiny_data_dir, builder_config="tiny")
    records = [ds[i] for i in range(len(ds))]
    assert len(records) == n
    labels = sorted(r["label"] for r in records)
    assert set(labels) == set(range(cfg.num_classes))  # All 8 classes present, in range.
    assert len({r["video_id"] for r in records}) == n
    frame = cv2.imdecode(np.frombuffer(records[0]["frames_bytes"][5], np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (cfg.height, cfg.width, 3)
    assert all(r["total_frames"] == cfg.num_frames for r in records)


def test_built_frames_are_the_seeded_generator_output(tiny_data_dir):
  cfg = syn.make_config("tiny")
  ds = TFDSDataset("vjax_synthetic", "train", data_dir=tiny_data_dir, builder_config="tiny")
  r = ds[0]
  index = int(r["video_id"].split("_")[1])
  frames = generate.generate_video(syn.example_seed(cfg.seed, "train", index), r["label"],
                                   num_frames=cfg.num_frames, height=cfg.height, width=cfg.width)
  assert r["label"] == syn.example_label(index, cfg.num_classes)
  assert [generate.encode_jpeg(f) for f in frames] == r["frames_bytes"]


def test_generate_video_determinism_and_shape():
  kw = dict(num_frames=6, height=24, width=40)
  a = generate.generate_video(5, 3, **kw)
  assert a.shape == (6, 24, 40, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, generate.generate_video(5, 3, **kw))
  np.testing.assert_array_equal(a, generate.generate_video(np.random.default_rng(5), 3, **kw))
  assert not np.array_equal(a, generate.generate_video(6, 3, **kw))
  assert a.std() > 10  # Textured, not blank.
  with pytest.raises(ValueError):
    generate.generate_video(0, 8, **kw)  # 4 directions x 2 speeds = classes 0..7.


def test_config_names_encode_options():
  assert syn.make_config("tiny").name == "tiny"
  assert syn.make_config("tiny", num_train=24).name == "tiny"  # Same values as the preset.
  a = syn.make_config("tiny", seed=1)
  b = syn.make_config(num_directions=8, num_speeds=3, num_frames=16)
  assert a.name != b.name and a.name != "tiny"
  assert "seed1" in a.name and b.name.startswith("d8s3_t16") and b.num_classes == 24
  with pytest.raises(TypeError):
    syn.make_config(num_clases=3)


def _loo_nearest_centroid(features: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
  f = (features - features.mean(0)) / (features.std(0) + 1e-6)
  correct = 0
  for i in range(len(f)):
    keep = np.arange(len(f)) != i
    centroids = np.stack([f[keep & (labels == c)].mean(0) for c in range(num_classes)])
    correct += int(np.argmin(((centroids - f[i]) ** 2).sum(1)) == labels[i])
  return correct / len(f)


def _texture(frame: np.ndarray) -> np.ndarray:
  """Grey frame with the saturated distractor shapes filled by the mean texture level."""
  grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
  shapes = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1] > 150
  grey[shapes] = grey[~shapes].mean()
  return grey


def test_class_needs_time_not_a_single_frame():
  num_classes, per_class = 8, 8
  labels = np.arange(num_classes * per_class) % num_classes
  videos = [generate.generate_video(1000 + i, int(l), num_frames=8, height=32, width=32)
            for i, l in enumerate(labels)]
  # One frame: colour statistics and a coarse layout carry no class information.
  first = np.stack([np.concatenate([
      cv2.resize(v[0].astype(np.float32), (4, 4), interpolation=cv2.INTER_AREA).ravel(),
      v[0].mean((0, 1)), v[0].std((0, 1))]) for v in videos])
  # Time: the shift of the panning texture between frames (phase correlation wraps too).
  motion = np.stack([np.median([cv2.phaseCorrelate(_texture(v[k]), _texture(v[k + 1]))[0]
                                for k in range(len(v) - 1)], axis=0) for v in videos])
  acc_first = _loo_nearest_centroid(first, labels, num_classes)
  acc_motion = _loo_nearest_centroid(motion, labels, num_classes)
  assert acc_first < 0.35, acc_first  # Chance is 0.125.
  assert acc_motion > 0.85, acc_motion
