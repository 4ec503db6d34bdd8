"""The recognition zoo's configs: each variant builds a model that takes what its test
pipeline produces, the full experiments hold MMAction2 0.24.1's numbers, and the synthetic
variants' pipelines run on the tiny synthetic datasets."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import FAST_COMPILE_XLA_FLAGS, ROOT
from vjax.config import load_config, synthetic_flip_label_map
from vjax.data import sources
from vjax.data.pipeline import Compose
from vjax.models import MODELS, build_model

# config file -> its variants ('' is the default); each also runs with ',synthetic'.
ZOO = {
    "tsm_k400": [""], "tsm_sthv2": [""], "tin_sthv1": [""], "tanet_k400": [""],
    "trn_sthv1": [""], "tpn_tsm_sthv1": [""], "tsm_mobilenetv2_k400": [""],
    "audio_k400": ["", "r18"], "slowfast_k400": ["8x8"],
    "slowonly_k400": ["", "8x8", "nl"], "i3d_k400": ["", "nl"], "r2plus1d_k400": [""],
    "csn_k400": [""], "x3d_k400": ["", "m"], "c3d_ucf101": ["", "split3"],
    "timesformer_k400": [""], "tpn_slowonly_k400": [""],
}
CASES = [(name, variant) for name, variants in ZOO.items() for variant in variants]
CLASSES = {"tsm_sthv2": 174, "tin_sthv1": 174, "trn_sthv1": 174, "tpn_tsm_sthv1": 174,
           "c3d_ucf101": 101}


def config(name, arg=""):
  return load_config(f"{ROOT}/configs/{name}.py" + (f":{arg}" if arg else ""))


def synthetic_arg(variant):
  return f"{variant},synthetic" if variant else "synthetic"


def needs(cfg):
  """Skips while a model type this config uses is not registered yet."""
  types = [cfg.model.type, cfg.model.backbone.type, cfg.model.cls_head.type]
  if cfg.model.get("neck"):
    types.append(cfg.model.neck.type)
  missing = [t for t in types if t not in MODELS]
  if missing:
    pytest.skip(f"model types {missing} are not registered yet")


def scores_shape(cfg, x_shape, init_shape=None):
  """Shape of the test scores (views aggregated per ``test_cfg``) for an input of
  ``x_shape``, the variables initialised on ``init_shape`` (default: the same)."""
  model = build_model(cfg.model)
  init_x = jnp.zeros(init_shape or x_shape, jnp.float32)
  variables = jax.eval_shape(lambda: model.init({"params": jax.random.key(0)}, init_x))
  out = jax.eval_shape(
      lambda v: model.apply(v, jnp.zeros(x_shape, jnp.float32),
                            method=lambda m, x: m.test_scores(m(x))), variables)
  return out.shape


def full_test_input(cfg) -> tuple:
  """The batch-of-one input shape the full config's test pipeline makes: the pipeline runs
  as written, with rawframe decoding swapped for frames held in memory (a 300-frame 40x32
  video; every op after the sampler fixes the output size) and audio features missing
  (MMAction2's zero-filled stand-in)."""
  pipeline = copy.deepcopy(cfg.data.test.to_dict()["pipeline"])
  sample = dict(total_frames=300, label=0, start_index=0, modality="RGB",
                array=np.zeros((300, 32, 40, 3), np.uint8))
  if cfg.data.test.type == "AudioFeatureDataset":
    sample.update(audio_path="/nonexistent/audio.npy", modality="Audio", start_index=1)
  for op in pipeline:
    if op["type"] == "RawFrameDecode":
      op["type"] = "ArrayDecode"
  expect = (pytest.warns(UserWarning, match="does not exist") if "audio_path" in sample else
            contextlib.nullcontext())
  with expect:
    out = Compose(pipeline)(sample, np.random.default_rng(0))
  return (1,) + out["audios" if "audios" in out else "imgs"].shape


@pytest.mark.parametrize("name,variant", CASES)
def test_full_config_scores_its_test_input(name, variant):
  cfg = config(name, variant)
  needs(cfg)
  num_classes = CLASSES.get(name, 400)
  assert cfg.model.cls_head.num_classes == num_classes
  assert scores_shape(cfg, full_test_input(cfg)) == (1, num_classes)


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory):
  """A folder with the tiny vjax_synthetic TFDS dataset built in ``tfds``."""
  root = tmp_path_factory.mktemp("zoo_data")
  sources.prepare_synthetic(str(root / "tfds"), "tiny")
  return root


@pytest.fixture(scope="module")
def tiny_sources(zoo_root):
  """Builds a split config's source on the tiny synthetic datasets (video or audio)."""

  def build(split_cfg):
    d = split_cfg.to_dict()
    pipeline = d.pop("pipeline")
    if d["type"] == "TFDSDataset":
      d.update(data_dir=str(zoo_root / "tfds"), builder_config=dict(preset="tiny"))
    else:
      d.update(data_dir=str(zoo_root / "audio"), num_train=16, num_val=8)
    return sources.DATASETS.build(d), pipeline

  return build


@pytest.mark.parametrize("name,variant", CASES)
def test_synthetic_pipelines_feed_the_model(name, variant, tiny_sources):
  cfg = config(name, synthetic_arg(variant))
  needs(cfg)
  assert cfg.model.cls_head.num_classes == 8
  outs = {}
  for split in ("train", "val", "test"):
    source, pipeline = tiny_sources(cfg.data[split])
    out = Compose(pipeline)(dict(source[0]), np.random.default_rng(0))
    key = "audios" if name == "audio_k400" else "imgs"  # AudioRecognizer's input key
    assert set(out) == {key, "label"} and 0 <= out["label"] < 8
    imgs = np.asarray(out[key])
    assert imgs.dtype == (np.float32 if name == "audio_k400" else np.uint8)
    outs[split] = imgs
  train, val, test = outs["train"], outs["val"], outs["test"]
  # One clip (3D, audio) or one clip's frames (2D) per training sample; the same frame size
  # for every split except where the test crops the full short side (as MMAction2's do).
  assert train.shape[-1] == val.shape[-1] == test.shape[-1]
  assert train.shape[1:] == val.shape[1:] or cfg.model.type == "Recognizer2D"
  for imgs in (val, test):
    assert scores_shape(cfg, (2,) + imgs.shape, (2,) + train.shape) == (2, 8)


# MMAction2 0.24.1's numbers, read from the config files each vjax config names
# (git show 0.x:configs/recognition/...): dotted paths, list indices as numbers.
REFERENCE = {
    ("tsm_k400", ""): {
        "data.videos_per_device": 8, "data.test_videos_per_device": 1, "optimizer.lr": 0.01,
        "optimizer.constructor": "TSMOptimizerConstructor",
        "optimizer.paramwise_cfg.fc_lr5": True, "optimizer.weight_decay": 0.0001,
        "optimizer_config.grad_clip.max_norm": 20, "lr_config.step": [20, 40],
        "total_epochs": 50, "checkpoint_config.interval": 5, "evaluation.interval": 5,
        "data.train.pipeline.0": dict(type="SampleFrames", clip_len=1, frame_interval=1,
                                      num_clips=8),
        "data.train.pipeline.3.num_fixed_crops": 13, "model.backbone.shift_div": 8,
        "model.backbone.pretrained": "torchvision://resnet50",
        "data.train.ann_file": "data/kinetics400/kinetics400_train_list_rawframes.txt"},
    ("tsm_sthv2", ""): {
        "data.videos_per_device": 6, "optimizer.lr": 0.0075, "optimizer.weight_decay": 0.0005,
        "total_epochs": 50, "evaluation.interval": 2, "checkpoint_config.interval": 1,
        "data.test.pipeline.0.twice_sample": True, "data.test.pipeline.3.crop_size": 256,
        "data.train.data_prefix": "data/sthv2/rawframes",
        "data.val.ann_file": "data/sthv2/sthv2_val_list_rawframes.txt"},
    ("tin_sthv1", ""): {
        "data.videos_per_device": 6, "optimizer.lr": 0.02, "optimizer.weight_decay": 0.0005,
        "lr_config.policy": "CosineAnnealing", "lr_config.min_lr_ratio": 0.5,
        "lr_config.warmup_iters": 1, "total_epochs": 40, "model.backbone.shift_div": 4,
        "model.cls_head.dropout_ratio": 0.8, "model.cls_head.is_shift": False,
        "model.test_cfg.average_clips": None, "data.train.filename_tmpl": "{:05}.jpg"},
    ("tanet_k400", ""): {
        "data.videos_per_device": 8, "optimizer.lr": 0.01, "lr_config.step": [50, 75, 90],
        "total_epochs": 100, "evaluation.interval": 2,
        "data.train.pipeline.0.type": "DenseSampleFrames", "data.val.pipeline.0.num_clips": 8,
        "model.backbone.num_segments": 8},
    ("trn_sthv1", ""): {
        "data.videos_per_device": 16, "optimizer.lr": 0.002,
        "optimizer.paramwise_cfg.fc_lr5": False, "optimizer.weight_decay": 0.0005,
        "lr_config.step": [30, 45], "total_epochs": 50, "evaluation.interval": 1,
        "model.backbone.partial_bn": True, "model.cls_head.relation_type": "TRNMultiScale",
        "data.train.pipeline.5.flip_label_map": {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}},
    ("tpn_tsm_sthv1", ""): {
        "data.videos_per_device": 8, "data.workers": 8, "optimizer.lr": 0.01,
        "optimizer.nesterov": True, "optimizer.weight_decay": 0.0005,
        "lr_config.step": [75, 125], "total_epochs": 150, "model.test_cfg.fcn_test": True,
        "model.neck.aux_head_cfg.out_channels": 174, "model.backbone.out_indices": (2, 3),
        "model.neck.level_fusion_cfg.out_channels": 2048},
    ("tsm_mobilenetv2_k400", ""): {
        "data.videos_per_device": 8, "optimizer.lr": 0.01, "optimizer.weight_decay": 0.00002,
        "lr_config.step": [40, 80], "total_epochs": 100, "checkpoint_config.interval": 1,
        "model.backbone.pretrained": "mmcls://mobilenet_v2",
        "data.train.pipeline.0.type": "SampleFrames",
        "data.val.pipeline.0.type": "DenseSampleFrames"},
    ("audio_k400", ""): {
        "data.videos_per_device": 160, "optimizer.lr": 2.0, "total_epochs": 100,
        "lr_config.policy": "CosineAnnealing", "log_config.interval": 1,
        "data.train.pipeline.1": dict(type="SampleFrames", clip_len=64, frame_interval=1,
                                      num_clips=1),
        "data.test.pipeline.1.num_clips": 10, "model.backbone.type": "ResNetAudio",
        "model.cls_head.in_channels": 1024,
        "data.train.ann_file": "data/kinetics400/kinetics400_train_list_audio_feature.txt"},
    ("audio_k400", "r18"): {
        "data.videos_per_device": 320, "optimizer.lr": 0.1, "model.backbone.depth": 18,
        "model.cls_head.in_channels": 512, "data.test.pipeline.1.num_clips": 1},
    ("slowfast_k400", "8x8"): {
        "model.backbone.resample_rate": 4, "model.backbone.speed_ratio": 4,
        "model.backbone.channel_ratio": 8, "model.backbone.slow_pathway.fusion_kernel": 7,
        "data.train.pipeline.0.clip_len": 32, "data.train.pipeline.0.frame_interval": 2,
        "total_epochs": 256, "lr_config.warmup_iters": 34},
    ("slowonly_k400", ""): {
        "data.train.pipeline.0.clip_len": 4, "data.train.pipeline.0.frame_interval": 16,
        "data.test.pipeline.0.num_clips": 10, "optimizer.lr": 0.1, "total_epochs": 256,
        "checkpoint_config.interval": 4, "model.backbone.pretrained": None},
    ("slowonly_k400", "8x8"): {
        "data.train.pipeline.0.clip_len": 8, "data.train.pipeline.0.frame_interval": 8,
        "lr_config.policy": "CosineAnnealing"},
    ("slowonly_k400", "nl"): {
        "optimizer.lr": 0.01, "lr_config.step": [90, 130], "lr_config.warmup_iters": 10,
        "total_epochs": 150, "model.backbone.non_local_cfg.mode": "embedded_gaussian",
        "model.backbone.non_local_cfg.use_scale": True,
        "model.backbone.non_local.2": (1, 0, 1, 0, 1, 0)},
    ("i3d_k400", ""): {
        "data.train.pipeline.0.clip_len": 32, "data.train.pipeline.3.scales": (1, 0.8),
        "optimizer.lr": 0.01, "lr_config.step": [40, 80], "total_epochs": 100,
        "model.backbone.conv1_kernel": (5, 7, 7), "model.backbone.pretrained2d": True,
        "model.backbone.inflate.3": (0, 1, 0)},
    ("i3d_k400", "nl"): {
        "model.backbone.non_local.1": (0, 1, 0, 1),
        "model.backbone.non_local_cfg.use_scale": False},
    ("r2plus1d_k400", ""): {
        "data.train.pipeline.0.clip_len": 8, "optimizer.lr": 0.1, "total_epochs": 180,
        "model.backbone.depth": 34, "model.backbone.norm_cfg.eps": 1e-3,
        "model.backbone.temporal_strides": (1, 2, 2, 2), "data.val.test_mode": True},
    ("csn_k400", ""): {
        "data.videos_per_device": 3, "optimizer.lr": 0.000125, "lr_config.step": [32, 48],
        "lr_config.warmup_iters": 16, "total_epochs": 58, "model.backbone.depth": 152,
        "model.backbone.bottleneck_mode": "ir", "model.test_cfg.max_testing_views": 10},
    ("x3d_k400", ""): {
        "data.test.pipeline.0": dict(type="SampleFrames", clip_len=13, frame_interval=6,
                                     num_clips=10, test_mode=True),
        "data.test.pipeline.2.scale": (-1, 192), "data.test.pipeline.3.crop_size": 192,
        "data.img_norm_cfg.mean": [114.75, 114.75, 114.75], "model.cls_head.in_channels": 432,
        "model.backbone.gamma_d": 2.2, "total_epochs": 300},
    ("x3d_k400", "m"): {
        "data.test.pipeline.0.clip_len": 16, "data.test.pipeline.0.frame_interval": 5,
        "data.test.pipeline.3.crop_size": 256},
    ("c3d_ucf101", ""): {
        "data.videos_per_device": 30, "optimizer.lr": 0.001, "optimizer.weight_decay": 0.0005,
        "total_epochs": 45, "data.train.pipeline.2.scale": (128, 171),
        "data.train.pipeline.3.size": 112, "data.img_norm_cfg.std": [1, 1, 1],
        "model.test_cfg.average_clips": "score",
        "data.train.ann_file": "data/ucf101/ucf101_train_split_1_rawframes.txt"},
    ("c3d_ucf101", "split3"): {
        "data.val.ann_file": "data/ucf101/ucf101_val_split_3_rawframes.txt"},
    ("timesformer_k400", ""): {
        "data.train.pipeline.0.frame_interval": 32, "lr_config.step": [5, 10],
        "total_epochs": 15, "model.backbone.embed_dims": 768,
        "optimizer": dict(type="SGD", lr=0.005, momentum=0.9, weight_decay=1e-4,
                          nesterov=True, paramwise_cfg=dict(custom_keys=[
                              [".backbone.cls_token", dict(decay_mult=0.0)],
                              [".backbone.pos_embed", dict(decay_mult=0.0)],
                              [".backbone.time_embed", dict(decay_mult=0.0)]])),
        "data.img_norm_cfg.std": [127.5, 127.5, 127.5]},
    ("tpn_slowonly_k400", ""): {
        "data.train.pipeline.0.clip_len": 8, "optimizer.lr": 0.01, "optimizer.nesterov": True,
        "lr_config.step": [75, 125], "total_epochs": 150, "data.workers": 8,
        "model.neck.aux_head_cfg.out_channels": 400, "data.val.pipeline.4.type": "ColorJitter"},
}


def lookup(cfg: dict, path: str):
  node = cfg
  for key in path.split("."):
    node = node[int(key)] if isinstance(node, (list, tuple)) else node[key]
  return node


def normalise(value):
  if isinstance(value, (list, tuple)):
    return [normalise(v) for v in value]
  if isinstance(value, dict):
    return {k: normalise(v) for k, v in value.items()}
  return value


@pytest.mark.parametrize("key", sorted(REFERENCE))
def test_full_configs_hold_mmaction2_values(key):
  name, variant = key
  cfg = config(name, variant).to_dict()
  for path, expected in REFERENCE[key].items():
    assert normalise(lookup(cfg, path)) == normalise(expected), path


def test_every_variant_parses_and_unknown_ones_list_the_valid():
  for name, variants in ZOO.items():
    for variant in variants:
      assert config(name, variant) is not None
      assert config(name, synthetic_arg(variant)).data.train.type in (
          "TFDSDataset", "vjax_synthetic_audio")
  with pytest.raises(ValueError, match=r"unknown config argument 'nl2'.*'4x16'.*'8x8'.*'nl'"):
    config("slowonly_k400", "nl2")
  with pytest.raises(ValueError, match="names two variants, '8x8' and 'nl'"):
    config("slowonly_k400", "8x8,nl")
  with pytest.raises(ValueError, match="unknown config argument 'r18'.*'synthetic'"):
    config("tsm_k400", "r18")
  # Order does not matter; the default variant is the first.
  assert config("slowonly_k400", "synthetic,nl").to_dict() == config(
      "slowonly_k400", "nl,synthetic").to_dict()
  assert config("slowonly_k400", "").to_dict() == config("slowonly_k400", "4x16").to_dict()


def test_synthetic_flip_label_map_mirrors_the_motion():
  """A horizontal flip negates a class's x velocity and keeps its y velocity: the map must
  send every class to the class with exactly that velocity (the generator's own numbers)."""
  from tfds_builders.vjax_synthetic import generate  # pylint: disable=g-import-not-at-top
  class_velocity = generate.class_velocity
  flip = synthetic_flip_label_map()
  for label in range(8):
    vx, vy = class_velocity(label)
    fx, fy = class_velocity(flip.get(label, label))
    assert math.isclose(fx, -vx, abs_tol=1e-9) and math.isclose(fy, vy, abs_tol=1e-9), label
  assert sorted(flip) == [0, 1, 4, 5]  # rightward <-> leftward; up and down stay
  with pytest.raises(ValueError, match="even num_directions"):
    synthetic_flip_label_map(num_directions=3)


def test_tsm_synthetic_trains_through_main(tmp_path, zoo_root):
  """Two steps of the synthetic TSM through ``python -m vjax.main`` on the tiny dataset:
  the 2D zoo's path (TSM optimizer groups, dense sampling, label-mapped flips) end to end."""
  workdir = tmp_path / "work"
  cmd = [sys.executable, "-m", "vjax.main", "--config=configs/tsm_k400.py:synthetic",
         f"--workdir={workdir}", "--config.total_epochs=1",
         "--config.data.videos_per_device=12", "--config.data.test_videos_per_device=8",
         "--config.log_config.interval=1"]
  for split in ("train", "val", "test"):
    cmd += [f"--config.data.{split}.data_dir={zoo_root / 'tfds'}",
            f"--config.data.{split}.builder_config.preset=tiny"]
  env = dict(os.environ, XLA_FLAGS=FAST_COMPILE_XLA_FLAGS)
  p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
  assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
  assert "Final val results: top1_acc=" in p.stdout
  with open(workdir / "log.jsonl") as f:
    records = [json.loads(line) for line in f]
  train = [r for r in records if "train/loss" in r]
  assert [r["step"] for r in train] == [1, 2]  # 24 tiny videos / 12 per step
  assert all(np.isfinite(r["train/loss"]) for r in train)
