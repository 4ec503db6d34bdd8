"""The vjax_synthetic_tags TFDS builder: layout, determinism, visible tags, and vjax pipelines
(multi-label and HVU) giving fixed-shape samples."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tfds_builders.vjax_synthetic_tags import builder as tags
from tfds_builders.vjax_synthetic_tags import generate
from vjax.data import Compose
from vjax.data.sources import TFDSDataset, build_split

NAME = "vjax_synthetic_tags"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> str:
  root = str(tmp_path_factory.mktemp("tfds_tags"))
  tags.prepare_synthetic_tags(root, "multilabel", "tiny")
  return root


def _pipeline(test_mode: bool, hvu: bool) -> list:
  keys = ["imgs", "label"] + (["mask", "category_mask"] if hvu else [])
  ops = [dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=4,
              test_mode=test_mode),
         dict(type="FrameBytesDecode"),
         dict(type="Resize", scale=(-1, 28)),
         dict(type="CenterCrop", crop_size=24) if test_mode else
         dict(type="RandomResizedCrop"),
         dict(type="Resize", scale=(24, 24), keep_ratio=False),
         dict(type="Normalize", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
              to_bgr=False),
         dict(type="FormatShape", input_format="NCHW")]
  if hvu:
    ops.append(dict(type="LoadHVULabel"))
  return ops + [dict(type="Collect", keys=keys, meta_keys=[]),
                dict(type="ToTensor", keys=keys)]


def test_multilabel_records(data_dir):
  cfg = tags.make_config("multilabel", "tiny")
  for split, n in (("train", cfg.num_train), ("validation", cfg.num_val)):
    ds = TFDSDataset(NAME, split, data_dir=data_dir, builder_config="multilabel_tiny")
    assert len(ds) == n and ds.num_classes == 6 and tuple(ds.class_names) == generate.KINDS
    for i in range(n):
      r = ds[i]
      assert r["label"].dtype == np.float32 and r["label"].shape == (6,)
      assert 1 <= r["label"].sum() <= 3 and set(np.unique(r["label"])) <= {0.0, 1.0}
      assert r["total_frames"] == 8 and r["start_index"] == 0 and r["modality"] == "RGB"
    frame = cv2.imdecode(np.frombuffer(r["frames_bytes"][3], np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (32, 32, 3)


def test_built_frames_are_the_seeded_generator_output(data_dir):
  ds = TFDSDataset(NAME, "train", data_dir=data_dir, builder_config="multilabel_tiny")
  for i in (0, 5):
    r = ds[i]
    index = int(r["video_id"].split("_")[1])
    frames, spec = generate.generate_video(tags.example_seed(0, "train", index), num_frames=8,
                                           height=32, width=32)
    assert [generate.encode_jpeg(f) for f in frames] == r["frames_bytes"]
    np.testing.assert_array_equal(np.flatnonzero(r["label"]), sorted(spec.kinds))


def test_hvu_records_and_pipeline(data_dir):
  """prepare=True builds it; records are HVUDataset's results; LoadHVULabel batches them."""
  ds_cfg = dict(type="TFDSDataset", name=NAME, data_dir=data_dir, prepare=True,
                builder_config=dict(task="hvu", preset="tiny"))
  for split, test_mode in (("train", False), ("validation", True)):
    source, pipeline = build_split(dict(ds_cfg, split=split,
                                        pipeline=_pipeline(test_mode, hvu=True)))
    assert source.config_name == "hvu_tiny" and source.num_classes == 16
    records = [source[i] for i in range(len(source))]
    for r in records:
      assert r["categories"] == ["attribute", "object", "scene"]
      assert r["category_nums"] == [6, 6, 4]
      assert r["label"] and set(r["label"]) <= set(r["categories"])
      for category, num in zip(r["categories"], r["category_nums"]):
        assert all(0 <= t < num for t in r["label"].get(category, []))
      assert len(r["label"].get("scene", [0])) == 1
    if split == "train":  # Some video misses a category, as in HVU.
      assert any(len(r["label"]) < 3 for r in records)
    compose = Compose(pipeline)
    rng = np.random.default_rng(0)
    samples = [compose(source[i], rng) for i in range(len(source))]
    assert all(sorted(s) == ["category_mask", "imgs", "label", "mask"] for s in samples)
    batch = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
    n = len(source)
    # vjax's FormatShape keeps channels last: NCHW is (clips, H, W, C) per sample.
    assert batch["imgs"].shape == (n, 4, 24, 24, 3) and batch["imgs"].dtype == np.float32
    assert batch["label"].shape == batch["mask"].shape == (n, 16)
    assert batch["category_mask"].shape == (n, 3)
    for r, s in zip(records, samples):  # The masks follow the annotated categories.
      want = [float(c in r["label"]) for c in r["categories"]]
      np.testing.assert_array_equal(s["category_mask"], want)
      np.testing.assert_array_equal(s["mask"], np.repeat(want, [6, 6, 4]))
      assert np.all(s["label"] <= s["mask"])


def test_multilabel_pipeline_fixed_shapes(data_dir):
  source, pipeline = build_split(dict(type="TFDSDataset", name=NAME, split="train",
                                      data_dir=data_dir, builder_config="multilabel_tiny",
                                      pipeline=_pipeline(False, hvu=False)))
  compose = Compose(pipeline)
  rng = np.random.default_rng(1)
  samples = [compose(source[i], rng) for i in range(len(source))]
  imgs = np.stack([s["imgs"] for s in samples])
  labels = np.stack([s["label"] for s in samples])
  assert imgs.shape == (len(source), 4, 24, 24, 3) and labels.shape == (len(source), 6)
  assert labels.dtype == np.float32


def _palette_pixels(frame: np.ndarray, colour: int) -> int:
  ref = np.array(generate.COLOURS[generate.COLOUR_NAMES[colour]], np.float32)
  near = np.abs(frame.astype(np.float32) - ref).max(-1) < 32
  return int(near.sum())


def test_tags_are_visible_in_every_frame():
  """Each tagged colour covers a shape's worth of pixels in every frame; untagged colours and
  the low-saturation backgrounds cover none (so a frame-averaging 2D network sees the tags)."""
  seen_kinds, seen_scenes = set(), set()
  for seed in range(40):
    frames, spec = generate.generate_video(seed, num_frames=6, height=32, width=32)
    seen_kinds.update(spec.kinds)
    seen_scenes.add(spec.scene)
    assert 1 <= len(spec.kinds) == len(set(spec.kinds)) <= 3
    for frame in frames:
      for c in range(len(generate.COLOURS)):
        count = _palette_pixels(frame, c)
        if c in spec.colours:
          assert count >= 8, (seed, spec, c, count)
        else:
          assert count <= 2, (seed, spec, c, count)
  assert seen_kinds == set(range(len(generate.KINDS)))
  assert seen_scenes == set(range(len(generate.SCENES)))
  a, _ = generate.generate_video(3, num_frames=4, height=24, width=40)
  b, _ = generate.generate_video(np.random.default_rng(3), num_frames=4, height=24, width=40)
  assert a.shape == (4, 24, 40, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, b)


def test_config_names_and_errors(tmp_path):
  assert tags.make_config("hvu", "small").name == "hvu_small"
  assert tags.make_config("multilabel", "tiny", num_val=8).name == "multilabel_tiny"
  custom = tags.make_config("hvu", "tiny", seed=3, missing_prob=0.5)
  assert custom.name == "hvu_t8_32x32_n16-8_seed3_m0.5" and custom.num_classes == 16
  assert tags.make_config("multilabel").tag_names == generate.KINDS
  with pytest.raises(KeyError, match="task"):
    tags.make_config("detection")
  with pytest.raises(TypeError, match="num_clases"):
    tags.make_config("hvu", num_clases=3)
  with pytest.raises(KeyError, match="hvu_tiny"):
    TFDSDataset(NAME, "train", data_dir=str(tmp_path), builder_config="tiny")
  with pytest.raises(FileNotFoundError, match="python -m tfds_builders.vjax_synthetic_tags"):
    TFDSDataset(NAME, "train", data_dir=str(tmp_path), builder_config="hvu_small")
