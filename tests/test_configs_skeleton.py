"""The skeleton configs hold MMAction2's recipes (compared with MMAction2 0.24.1's own config
files, converted), the motion streams' op, and (tests/models) the models they build."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.convert.test_shipped_configs import ROOT as MM_CONFIGS
from vjax.config import load_config
from vjax.convert.mmaction2_config import load_any_config
from vjax.data.pipeline import Compose

needs_mmaction2 = pytest.mark.skipif(MM_CONFIGS is None,
                                     reason="mmaction2==0.24.1 config files not installed")

PAIRS = [
    ("stgcn_ntu60", "2d", "stgcn/stgcn_80e_ntu60_xsub_keypoint.py"),
    ("stgcn_ntu60", "3d", "stgcn/stgcn_80e_ntu60_xsub_keypoint_3d.py"),
    ("agcn_ntu60", "joint", "2s-agcn/2sagcn_80e_ntu60_xsub_keypoint_3d.py"),
    ("agcn_ntu60", "bone", "2s-agcn/2sagcn_80e_ntu60_xsub_bone_3d.py"),
    ("posec3d_ntu60", "keypoint", "posec3d/slowonly_r50_u48_240e_ntu60_xsub_keypoint.py"),
    ("posec3d_ntu60", "limb", "posec3d/slowonly_r50_u48_240e_ntu60_xsub_limb.py"),
    ("posec3d_gym", "keypoint", "posec3d/slowonly_r50_u48_240e_gym_keypoint.py"),
    ("posec3d_gym", "limb", "posec3d/slowonly_r50_u48_240e_gym_limb.py"),
    ("stgcn_babel", "babel60", "stgcn/stgcn_80e_babel60.py"),
    ("stgcn_babel", "babel120", "stgcn/stgcn_80e_babel120.py"),
    ("stgcn_babel", "babel60_wfl", "stgcn/stgcn_80e_babel60_wfl.py"),
    ("stgcn_babel", "babel120_wfl", "stgcn/stgcn_80e_babel120_wfl.py"),
]


def plain(v):
  v = v.to_dict() if hasattr(v, "to_dict") else v
  if isinstance(v, dict):
    return {k: plain(x) for k, x in v.items()}
  if isinstance(v, (list, tuple)):
    return [plain(x) for x in v]
  return v


def ops_of(split) -> list[dict]:
  """A split's pipeline (a wrapper's child's, as MMAction2 nests it) without MMAction2's
  torch-only ToTensor."""
  pipeline = split.get("pipeline") or split["dataset"]["pipeline"]
  return [op for op in plain(pipeline) if op["type"] != "ToTensor"]


@needs_mmaction2
@pytest.mark.parametrize("name,variant,mm_file", PAIRS)
def test_full_configs_equal_mmaction2s(name, variant, mm_file):
  ours = load_config(f"{ROOT}/configs/{name}.py:{variant}")
  theirs = load_any_config(os.path.join(MM_CONFIGS, "skeleton", mm_file))
  assert plain(ours.model) == plain(theirs.model)
  for key in ("optimizer", "optimizer_config", "lr_config", "total_epochs"):
    assert plain(ours[key]) == plain(theirs[key]), key
  assert list(ours.evaluation.metrics) == list(theirs.evaluation.metrics)
  assert ours.evaluation.interval == theirs.evaluation.interval
  assert ours.data.videos_per_device == theirs.data.videos_per_device
  for split in ("train", "val", "test"):
    a, b = plain(ours.data[split]), plain(theirs.data[split])
    assert ops_of(a) == ops_of(b), split
    for d in (a, b, a.get("dataset", {}), b.get("dataset", {})):
      d.pop("pipeline", None)
    assert a == b, split


def test_motion_streams_put_their_ops_before_format_gcn_input():
  for stream, ops in (("joint", []), ("bone", ["JointToBone"]),
                      ("joint_motion", ["ToMotion"]), ("bone_motion", ["JointToBone", "ToMotion"])):
    c = load_config(f"{ROOT}/configs/agcn_ntu60.py:{stream}")
    types = [op["type"] for op in c.data.train.pipeline]
    assert types == ["PaddingWithLoop", "PoseDecode", *ops, "FormatGCNInput", "Collect"], stream


def test_to_motion_is_the_next_frame_minus_this_one():
  rng = np.random.default_rng(0)
  kp = rng.normal(size=(2, 5, 25, 3)).astype(np.float32)  # (M, T, V, C), 3D joints
  out = Compose([dict(type="ToMotion")])(dict(keypoint=kp.copy()), rng)["keypoint"]
  for t in range(4):  # by hand: frame t+1 minus frame t
    np.testing.assert_allclose(out[:, t], kp[:, t + 1] - kp[:, t], rtol=1e-6)
  assert np.all(out[:, 4] == 0)
  scored = rng.random((1, 3, 17, 3)).astype(np.float32)  # 2D + score: the score stays
  out = Compose([dict(type="ToMotion", dataset="coco")])(dict(keypoint=scored.copy()),
                                                          rng)["keypoint"]
  np.testing.assert_allclose(out[..., 2], scored[..., 2])
  np.testing.assert_allclose(out[:, 0, :, :2], scored[:, 1, :, :2] - scored[:, 0, :, :2],
                             rtol=1e-6)


@pytest.mark.parametrize("arg", ["stgcn_ntu60.py:2d", "stgcn_ntu60.py:3d", "agcn_ntu60.py:bone",
                                 "stgcn_babel.py:babel60_wfl", "stgcnpp_ntu60.py:2d"])
def test_synthetic_gcn_variants_keep_the_actor_alone(arg):
  """The synthetic GCN variants format one person (the actor, whose motion is the class) and
  their head pools one row per clip; every split reads the 'small' preset in its layout."""
  c = load_config(f"{ROOT}/configs/{arg},synthetic")
  assert c.model.cls_head.num_person == 1 and c.model.cls_head.num_classes == 10
  layout = "ntu3d" if c.model.backbone.graph_cfg.layout == "ntu-rgb+d" else "coco2d"
  for split in ("train", "val", "test"):
    fmt = next(op for op in ops_of(c.data[split]) if op["type"] == "FormatGCNInput")
    assert fmt["num_person"] == 1, (arg, split)
    assert c.data[split].builder_config.to_dict() == dict(layout=layout, preset="small")
  assert c.optimizer.type == "AdamW" and c.optimizer.lr == 0.001 and c.total_epochs == 10


@pytest.mark.parametrize("arg", ["posec3d_ntu60.py:keypoint", "posec3d_gym.py:limb"])
def test_synthetic_posec3d_never_mirrors(arg):
  """A mirror turns a synthetic right-arm class into a left-arm one, so the synthetic PoseC3D
  variants neither flip in training nor average flipped heatmaps at test; the full recipes
  keep both, as MMAction2's."""
  syn = load_config(f"{ROOT}/configs/{arg},synthetic")
  full = load_config(f"{ROOT}/configs/{arg}")
  for c, mirrors in ((syn, False), (full, True)):
    train, test = ops_of(c.data.train), ops_of(c.data.test)
    assert any(op["type"] == "Flip" for op in train) == mirrors, arg
    target = next(op for op in test if op["type"] == "GeneratePoseTarget")
    assert bool(target.get("double")) == mirrors, arg
