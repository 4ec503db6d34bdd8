"""Skeleton recognition end to end: every shipped MMAction2 skeleton config initialises through
``vjax.inference.init_recognizer`` with no data (its stand-in input shaped by the config's own
pipeline), the synthetic variants train and evaluate through the trainer on the tiny
``vjax_synthetic_skeleton`` preset, two streams fuse with ``report_accuracy``, and the skeleton
demo draws a generated video."""

from __future__ import annotations

import json
import os
import pickle

import cv2
import jax
import numpy as np
import pytest

from tests.conftest import ROOT
from tests.convert.test_shipped_configs import ROOT as MM_CONFIGS
from tests.media_fixtures import write_video
from vjax.config import load_config
from vjax.convert.mmaction2_config import load_any_config
from vjax.tasks import build_task

needs_mmaction2 = pytest.mark.skipif(MM_CONFIGS is None,
                                     reason="mmaction2==0.24.1 config files not installed")
SKELETON_CONFIGS = sorted(
    os.path.relpath(os.path.join(d, f), MM_CONFIGS)
    for d, _, files in os.walk(os.path.join(MM_CONFIGS or "", "skeleton"))
    for f in files if f.endswith(".py")) if MM_CONFIGS else []


def expected_input(cfg) -> tuple:
  """The model input (a batch of one) MMAction2's config implies, derived from its settings:
  GCNs (1, persons, frames, joints, channels); PoseC3D (1, views, frames, crop, crop, maps)."""
  model = cfg.model
  if model.type == "SkeletonGCN":
    layout = model.backbone.graph_cfg.layout
    joints = {"coco": 17, "ntu-rgb+d": 25, "openpose-18": 18}[layout]
    frames = next((op["clip_len"] for op in cfg.data.val.pipeline
                   if op["type"] == "PaddingWithLoop"), 300)  # BABEL: stand-in's 300
    persons = next(op.get("num_person", 2) for op in cfg.data.val.pipeline
                   if op["type"] == "FormatGCNInput")
    return (1, persons, frames, joints, model.backbone.in_channels)
  ops = {op["type"]: op for op in cfg.data.val.pipeline}
  return (1, ops["UniformSampleFrames"]["num_clips"], ops["UniformSampleFrames"]["clip_len"],
          ops["CenterCrop"]["crop_size"], ops["CenterCrop"]["crop_size"],
          model.backbone.in_channels)


@needs_mmaction2
def test_every_shipped_skeleton_config_builds_with_no_data():
  assert len(SKELETON_CONFIGS) == 16
  for path in SKELETON_CONFIGS:
    cfg = load_any_config(os.path.join(MM_CONFIGS, path))
    task = build_task(cfg)
    (x,) = task.init_inputs()
    assert x.shape == expected_input(cfg), path
    model = task.build_model()
    variables = jax.eval_shape(lambda: task.init_variables(
        model, {"params": jax.random.key(0), "dropout": jax.random.key(0)}, (x,)))
    scores = jax.eval_shape(lambda v: model.apply(v, x, train=False), variables)
    assert scores.shape[-1] == cfg.model.cls_head.num_classes, path


@needs_mmaction2
@pytest.mark.parametrize("path,shape", [
    ("skeleton/stgcn/stgcn_80e_ntu60_xsub_keypoint.py", (2, 2, 20, 17, 3)),
    ("skeleton/posec3d/slowonly_r50_u48_240e_gym_limb.py", (2, 4, 32, 32, 17)),
])
def test_init_recognizer_forward_on_channels_last_input(path, shape):
  from vjax.inference import init_recognizer  # pylint: disable=g-import-not-at-top
  views = (1,) if len(shape) == 5 and "posec3d" in path else ()  # Recognizer3D: views axis
  rec = init_recognizer(os.path.join(MM_CONFIGS, path), input_shape=(1,) + views + shape[1:])
  x = np.random.default_rng(0).random(shape).astype(np.float32)
  scores = np.asarray(rec.forward(x))
  num_classes = rec.config.model.cls_head.num_classes
  assert scores.shape == (2, num_classes) and np.all(np.isfinite(scores))
  assert not np.allclose(scores[0], scores[1])  # the two inputs differ, so do the scores


def tiny(name: str, arg: str, data_dir: str):
  c = load_config(f"{ROOT}/configs/{name}.py:{arg},synthetic")
  for split in ("train", "val", "test"):
    c.data[split].builder_config = dict(c.data[split].builder_config, preset="tiny")
    c.data[split].data_dir = data_dir
  from tfds_builders.vjax_synthetic_skeleton import PRESETS  # pylint: disable=g-import-not-at-top
  c.model.cls_head.num_classes = PRESETS["tiny"]["num_classes"]
  c.total_epochs, c.evaluation.interval = 1, 1
  c.data.videos_per_device, c.data.test_videos_per_device = 1, 1
  for split in ("train", "val", "test"):  # the tiny preset's 32-48 frames, looped to 32
    for op in c.data[split].pipeline:
      if op["type"] == "PaddingWithLoop":
        op["clip_len"] = 32
  return c


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("skeleton"))


def test_posec3d_synthetic_trains_and_evaluates(data_dir, tmp_path):
  """(The GCNs train in the two-stream test below.)"""
  from vjax.train import loop  # pylint: disable=g-import-not-at-top
  c = tiny("posec3d_ntu60", "limb", data_dir)
  results = loop.train_and_evaluate(c, str(tmp_path))
  assert set(results) >= {"top1_acc", "top5_acc"}
  assert all(0 <= v <= 1 for v in results.values())
  logs = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
  assert any("train/loss_cls" in r for r in logs)


def test_gcn_synthetic_trains_with_the_class_balanced_focal_loss(data_dir, tmp_path):
  """ST-GCN through the trainer on one person (BABEL's recipe with CBFocalLoss)."""
  from vjax.train import loop  # pylint: disable=g-import-not-at-top
  c = tiny("stgcn_babel", "babel60_wfl", data_dir)
  assert c.model.cls_head.loss_cls.type == "CBFocalLoss"
  c.model.cls_head.loss_cls.samples_per_cls = [6, 6, 6, 6]  # the tiny preset's 4 classes
  results = loop.train_and_evaluate(c, str(tmp_path))
  assert {"top1_acc", "top5_acc", "mean_class_accuracy"} <= set(results)
  logs = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
  losses = [r["train/loss_cls"] for r in logs if "train/loss_cls" in r]
  assert losses and all(np.isfinite(losses))


def test_two_streams_fuse_with_report_accuracy(data_dir, tmp_path):
  """Joint and bone 2s-AGCN scores (random weights: the fusion is the point) dumped per
  validation video, fused 2:1 by the tool with labels from the config's test split."""
  from vjax.inference import init_recognizer, pipeline_imgs  # pylint: disable=g-import-not-at-top
  from vjax.tools import report_accuracy  # pylint: disable=g-import-not-at-top
  from vjax.data import sources  # pylint: disable=g-import-not-at-top
  dumps, scores = [], []
  for stream in ("joint", "bone"):
    c = tiny("agcn_ntu60", stream, data_dir)
    rec = init_recognizer(c)
    source, _ = sources.build_split(c.data.test)
    rows = [np.asarray(rec.predict(pipeline_imgs(c, source[i])[None]))[0]
            for i in range(len(source))]
    dumps.append(str(tmp_path / f"{stream}.pkl"))
    with open(dumps[-1], "wb") as f:
      pickle.dump(rows, f)
    scores.append(rows)
  assert not np.allclose(scores[0], scores[1])  # the streams see different inputs
  config = tmp_path / "config.py"  # the tiny test split, as a config file for --config
  config.write_text(
      "import importlib.util\n"
      "def get_config(arg=''):\n"
      f"  spec = importlib.util.spec_from_file_location('t', {__file__!r})\n"
      "  m = importlib.util.module_from_spec(spec)\n"
      "  spec.loader.exec_module(m)\n"
      f"  return m.tiny('agcn_ntu60', 'joint', {data_dir!r})\n")
  result = report_accuracy.main(["--scores", *dumps, "--coefficients", "2", "1",
                                 "--config", str(config)])
  labels = report_accuracy.config_labels(str(config))
  assert len(labels) == len(scores[0]) == 12  # the tiny preset's validation videos
  want_top1 = np.mean([np.argmax(2 * a + b) == y for a, b, y in zip(*scores, labels)])
  np.testing.assert_allclose(result["top1_acc"], want_top1)


def test_skeleton_demo_draws_poses_and_the_label(tmp_path):
  from tfds_builders.vjax_synthetic_skeleton import generate_video  # pylint: disable=g-import-not-at-top
  from vjax.demo import skeleton  # pylint: disable=g-import-not-at-top
  ann, _ = generate_video(np.random.default_rng(0), 1, layout="coco2d", min_frames=16,
                          max_frames=16)
  keypoint = np.asarray(ann["keypoint"], np.float32)
  h, w = ann["img_shape"]
  scale = 160 / w  # draw on a small video: poses scaled to its size
  poses = dict(keypoint=keypoint * scale, keypoint_score=ann["keypoint_score"])
  frames = [np.full((int(h * scale), 160, 3), 40, np.uint8) for _ in range(keypoint.shape[1])]
  video = tmp_path / "people.mp4"
  write_video(str(video), frames, fps=8)
  pkl = tmp_path / "poses.pkl"
  pkl.write_bytes(pickle.dumps(poses))
  labels = tmp_path / "labels.txt"
  labels.write_text("\n".join(f"motion {i}" for i in range(60)))
  out = tmp_path / "out.mp4"
  top5 = skeleton.main([str(video), str(out), "--config", f"{ROOT}/configs/stgcn_ntu60.py:2d",
                        "--poses", str(pkl), "--label-map", str(labels)])
  assert len(top5) == 5 and top5[0][1] >= top5[-1][1]
  cap = cv2.VideoCapture(str(out))
  drawn = []
  while True:
    ok, frame = cap.read()
    if not ok:
      break
    drawn.append(frame)
  assert len(drawn) == len(frames)
  changed = np.abs(drawn[0].astype(int) - 40).max(-1) > 60
  assert changed.sum() > 200  # bones, joints and the caption were drawn on the grey frame
