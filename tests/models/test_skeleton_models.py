"""Skeleton models against MMAction2 0.24.1: Graph, STGCN, AGCN, STGCNHead, SkeletonGCN, PoseC3D.

The goldens (tests/golden/skeleton_models, written by
tests/reference/make_golden_skeleton_models.py in the reference venv) hold MMAction2's graphs
and its ``forward(return_loss=False)`` scores for seeded random weights and BatchNorm
statistics, which this test redraws by torch name and imports by name (strict). MMAction2's
skeleton input (N, C, T, V, M) is vjax's (N, M, T, V, C); its heatmaps (N, V, K, T, H, W)
are vjax's (N, V, T, H, W, K). One jitted call per model serves all its assertions.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.reference import golden_weights
from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.convert.mmaction2_config import load_any_config
from vjax.models import MODELS, build_model
from vjax.models.backbones.agcn import AGCNBlock
from vjax.models.backbones.stgcn import temporal_conv_general_dilated
from vjax.models.heads.stgcn_head import STGCNHead
from vjax.models.heads.base import cls_loss
from vjax.models.skeleton import Graph

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "skeleton_models"
META = json.loads((GOLDEN / "meta.json").read_text())
CASES = {c["name"]: c for c in json.loads((GOLDEN / "cases.json").read_text())}
IO = dict(np.load(GOLDEN / "io.npz"))
KEY = jax.random.key(0)
# float32 on both sides (torch CPU vs XLA CPU). Measured max |diff| / max(1, max |score|):
# stgcn_coco 3.6e-7 (train-mode scores 7.8e-7), stgcn_ntu 3.0e-7, agcn_joint 5.4e-7,
# agcn_bone 4.3e-7, posec3d 8.1e-7.
RTOL = 1e-4


def _skeleton_configs() -> list[str]:
  """MMAction2's shipped skeleton configs (the PyPI package's files, read as data)."""
  spec = importlib.util.find_spec("mmaction")
  if spec is None or not spec.submodule_search_locations:
    return []
  root = os.path.join(spec.submodule_search_locations[0], ".mim", "configs", "skeleton")
  return sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True))


SKELETON_CONFIGS = _skeleton_configs()


# ------------------------------------------------------------------ golden helpers
def drawn(key: str, shape) -> np.ndarray:
  """The reference script's draw for torch ``key`` (golden_weights + its RESCALE rules)."""
  v = golden_weights.tensor(META["seed"], key, shape)
  for pattern, scale, offset in META["rescale"]:
    if re.search(pattern, key):
      v = (v * np.float32(scale) + np.float32(offset)).astype(np.float32)
  return v


def state_dict(case) -> dict[str, np.ndarray]:
  state, drift = {}, []
  for key, shape, expected in case["tensors"]:
    state[key] = drawn(key, shape)
    if not np.allclose(golden_weights.checksum(state[key]), expected, rtol=1e-9, atol=1e-9):
      drift.append(key)
  assert not drift, f"the draws differ from the reference venv's: {drift[:5]}"
  return state


def golden_input(case) -> np.ndarray:
  """vjax's layout of the input MMAction2 ran on."""
  name = case["name"]
  if case.get("input") == "uniform":  # PoseC3D heatmaps (N, V, K, T, H, W), redrawn
    x = golden_weights.uniform(META["seed"], f"input/{name}", case["input_shape"]).astype(
        np.float32)
    assert np.allclose(golden_weights.checksum(x), case["input_checksum"], rtol=1e-9)
    return np.moveaxis(x, 2, -1)
  return IO[f"{name}/input"].transpose(0, 4, 2, 3, 1)  # (N, C, T, V, M) -> (N, M, T, V, C)


class Loaded:
  """A golden case's vjax model with MMAction2's weights, and its jitted eval forward."""

  def __init__(self, name: str, with_graph_buffer: bool = False):
    self.case = CASES[name]
    self.model = build_model(self.case["model"])
    self.x = jnp.asarray(golden_input(self.case))
    target = jax.eval_shape(lambda: nn.unbox(self.model.init({"params": KEY}, self.x)))
    state = state_dict(self.case)
    if with_graph_buffer:  # an MMAction2 checkpoint also holds the graph buffer
      graph = self.case["model"]["backbone"]["graph_cfg"]
      state["backbone.A"] = Graph(**graph).A.astype(np.float32)
    self.variables, report = convert_state_dict(state, target)
    assert report.loaded == len(jax.tree.leaves(target))
    model = self.model
    self.scores = jax.jit(lambda v, x: model.apply(v, x, train=False))
    self.features = jax.jit(lambda v, x: (model.apply(v, x, train=False), model.apply(
        v, x, method=model.extract_features)))


def assert_close(got, expected, what: str):
  got, expected = np.asarray(got), np.asarray(expected)
  assert got.shape == expected.shape, what
  scale = max(1.0, float(np.abs(expected).max()))
  diff = float(np.abs(got - expected).max())
  print(f"{what}: max |diff| {diff:.3g}, scale {scale:.3g}")
  assert diff <= RTOL * scale, f"{what}: max |vjax - MMAction2| = {diff:.3g} (scale {scale:.3g})"


@pytest.fixture(scope="module")
def stgcn_coco():
  return Loaded("stgcn_coco", with_graph_buffer=True)


@pytest.fixture(scope="module")
def agcn():
  return Loaded("agcn_joint", with_graph_buffer=True)


# ------------------------------------------------------------------ Graph
GRAPHS = json.loads((GOLDEN / "graphs.json").read_text())
GRAPH_A = dict(np.load(GOLDEN / "graphs.npz"))


def test_graph_adjacency_equals_mmaction2_for_every_layout_and_strategy():
  assert len(GRAPHS) == 5 * 4 * 3
  refused = 0
  for record in GRAPHS:
    layout, strategy, max_hop, dilation = record["key"].split("/")
    args = (layout, strategy, int(max_hop), int(dilation))
    if "error" in record:  # MMAction2 defines 'agcn' for the directed layouts only
      assert strategy == "agcn" and layout in ("openpose-18", "ntu_edge", "coco")
      with pytest.raises(ValueError, match="'agcn' needs a layout with directed links"):
        Graph(*args)
      refused += 1
      continue
    a = Graph(*args).A
    assert a.dtype == np.float64
    np.testing.assert_allclose(a, GRAPH_A[record["key"]], rtol=0, atol=1e-15,
                               err_msg=record["key"])
  assert refused == 3 * 3


def test_graph_arguments():
  g = Graph()  # MMAction2's defaults: 'openpose-18', 'uniform', max_hop 1, dilation 1
  assert (g.num_node, g.center, g.A.shape) == (18, 1, (1, 18, 18))
  assert Graph("coco", "spatial").A.shape == (3, 17, 17)
  # By hand, NTU 'spatial' (A[j, i] carries joint j to joint i; each column i is divided by
  # the number of joints within one hop of i). The centre is joint 21 (index 20), with
  # bones to 2, 3, 5, 9 (indices 1, 2, 4, 8): column 20 has 5 entries of 1/5; its self link
  # is "root" (partition 0) and its neighbours, further from the centre than 20 itself, are
  # partition 1 (root + closer). Joint 2 (index 1) has bones to 1 and 21: column 1 holds
  # 1/3, and 20 -> 1 comes from nearer the centre: partition 2 (further). Distances to the
  # centre count hops up to max_hop only, beyond is inf: joint 1 (index 0), two hops away,
  # is "further" than index 1, so 0 -> 1 is in partition 1.
  a = Graph("ntu-rgb+d", "spatial").A
  assert a[0, 20, 20] == pytest.approx(1 / 5)
  np.testing.assert_allclose(a[1][[1, 2, 4, 8], 20], 1 / 5)
  np.testing.assert_allclose(a[2][:, 20], 0)
  assert (a[2, 20, 1], a[1, 0, 1], a[0, 1, 1]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
  assert a[:, :, 20].sum() == pytest.approx(1)  # every column of the union sums to 1
  with pytest.raises(ValueError, match="layout 'openpose'"):
    Graph("openpose")
  with pytest.raises(ValueError, match="strategy 'star'"):
    Graph("coco", "star")


# ------------------------------------------------------------------ parity
def test_goldens_come_from_mmaction2_and_stay_small():
  assert META["mmaction2"] == "0.24.1"
  assert sum(f.stat().st_size for f in GOLDEN.iterdir() if f.is_file()) < 1024 * 1024


def test_stgcn_coco_matches_mmaction2(stgcn_coco):
  m = stgcn_coco
  assert m.x.shape == (2, 2, 12, 17, 3) and not np.asarray(m.x[0, 1]).any()
  scores = m.scores(m.variables, m.x)
  assert scores.shape == (2, 1, 10)
  expected = IO["stgcn_coco/output"]
  assert_close(m.model.test_scores(scores), expected, "stgcn_coco")  # raw scores, no softmax
  assert expected.std() > 0.1
  # The mean over persons is symmetric: swapping them leaves every score unchanged.
  swapped = m.scores(m.variables, m.x[:, ::-1])
  np.testing.assert_allclose(swapped, scores, rtol=0, atol=1e-5)


def test_stgcn_train_mode_loss_and_statistics_match_mmaction2(stgcn_coco):
  m, case = stgcn_coco, stgcn_coco.case
  labels = jnp.asarray(case["train_labels"])
  run = jax.jit(lambda v, x: m.model.apply(v, x, mutable=["batch_stats"],
                                           method=m.model.forward_train))
  out, new = run(m.variables, m.x)
  scores = out["cls_score"]
  assert_close(scores[:, 0], IO["stgcn_coco/train_score"], "stgcn_coco train scores")
  loss = cls_loss(case["model"]["cls_head"], scores[:, 0], labels)
  assert float(loss) == pytest.approx(case["train_loss_cls"], rel=1e-5)
  # Running statistics after the step: torch's momentum 0.1 and unbiased batch variance.
  stats = dict(np.load(GOLDEN / "train_stats.npz"))
  flat = {"/".join(k.key for k in p): v
          for p, v in jax.tree_util.tree_flatten_with_path(new["batch_stats"])[0]}
  assert len(flat) == len(stats)
  for key, value in flat.items():
    parts = key.split("/")
    torch_key = re.sub(r"_(\d+)(?=\.|$)", r".\1", ".".join(parts[:-1]))
    leaf = {"mean": "running_mean", "var": "running_var"}[parts[-1]]
    np.testing.assert_allclose(value, stats[f"stgcn_coco/{torch_key}.{leaf}"], rtol=1e-4,
                               atol=1e-5, err_msg=key)


def test_stgcn_ntu_3d_matches_mmaction2_and_features_feed_the_head():
  m = Loaded("stgcn_ntu")
  scores, feats = m.features(m.variables, m.x)
  assert_close(scores[:, 0], IO["stgcn_ntu/output"], "stgcn_ntu")
  # extract_features: the head's pooled, person-averaged features; fc on them is the score.
  assert feats.shape == (2, 1, 256)
  fc = m.variables["params"]["cls_head"]["fc"]
  np.testing.assert_allclose(feats[:, 0] @ fc["kernel"][0, 0] + fc["bias"], scores[:, 0],
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["agcn_joint", "agcn_bone"])
def test_agcn_matches_mmaction2(agcn, name):
  # Joint and bone streams are one model; the draws depend on names only, so the weights
  # are the same and one jitted forward serves both.
  assert CASES[name]["tensors"] == agcn.case["tensors"]
  x = jnp.asarray(golden_input(CASES[name]))
  expected = IO[f"{name}/output"]
  assert_close(agcn.scores(agcn.variables, x)[:, 0], expected, name)
  assert expected.std() > 0.1


def test_posec3d_matches_mmaction2():
  m = Loaded("posec3d")
  assert m.x.shape == (1, 2, 8, 32, 32, 17)
  scores = m.scores(m.variables, m.x)
  assert_close(scores.reshape(-1, 10), IO["posec3d/output"], "posec3d")  # per view


# ------------------------------------------------------------------ construction
def test_module_names_follow_mmaction2(stgcn_coco, agcn):
  p = stgcn_coco.variables["params"]["backbone"]
  assert p["edge_importance_0"].shape == (3, 17, 17)
  assert p["st_gcn_networks_0"]["gcn"]["conv"]["kernel"].shape == (1, 1, 3, 3 * 64)
  assert p["st_gcn_networks_4"]["tcn_2"]["kernel"].shape == (9, 1, 128, 128)
  assert "residual_0" in p["st_gcn_networks_4"] and "residual_0" not in p["st_gcn_networks_5"]
  assert "residual_0" not in p["st_gcn_networks_0"]  # the first block has none
  q = agcn.variables["params"]["backbone"]["agcn_networks_1"]["gcn"]
  assert q["PA"].shape == (3, 25, 25) and q["conv_a_2"]["kernel"].shape == (1, 1, 64, 16)
  assert "down_0" not in q and "down_0" in agcn.variables["params"]["backbone"][
      "agcn_networks_4"]["gcn"]


def test_initialisation_follows_mmaction2():
  # One AGCN block (128 channels, no downsampling) and the head, eagerly: cheap to init.
  adj = jnp.asarray(Graph("ntu-rgb+d", "agcn").A, jnp.float32)
  x = jnp.zeros((1, 2, 25, 128))
  p = nn.unbox(AGCNBlock(128).init({"params": KEY}, x, adj))["params"]
  np.testing.assert_array_equal(p["gcn"]["PA"], np.float32(1e-6))
  # PyTorch's default conv init (mmcv's helpers leave AGCN's tensors as they are):
  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for kernel and bias.
  tcn = p["tcn_0"]
  bound = 1 / np.sqrt(128 * 9)
  assert float(jnp.abs(tcn["kernel"]).max()) <= bound
  assert float(jnp.abs(tcn["bias"]).max()) > bound / 2
  assert float(jnp.std(tcn["kernel"])) == pytest.approx(bound / np.sqrt(3), rel=0.05)
  assert (p["gcn"]["bn"]["scale"] == 1).all() and not p["gcn"]["bn"]["bias"].any()
  head = STGCNHead(num_classes=60, in_channels=256)
  fc = nn.unbox(head.init({"params": KEY}, jnp.zeros((2, 3, 5, 256))))["params"]["fc"]
  assert float(jnp.std(fc["kernel"])) == pytest.approx(0.01, rel=0.1)  # normal_init(std)
  assert not fc["bias"].any()


def test_arguments_and_errors_name_the_problem():
  gcn = dict(type="SkeletonGCN",
             backbone=dict(type="STGCN", in_channels=3, graph_cfg=dict(layout="coco")),
             cls_head=dict(type="STGCNHead", num_classes=4, in_channels=256))
  shape = lambda cfg, x: jax.eval_shape(  # noqa: E731
      lambda: build_model(cfg).init({"params": KEY}, x))
  with pytest.raises(ValueError, match=r"17 joints .* with 3 channels .* \(1, 2, 8, 25, 3\)"):
    shape(gcn, jnp.zeros((1, 2, 8, 25, 3)))
  with pytest.raises(ValueError, match="num_person=2 does not divide the 3 backbone rows"):
    shape(gcn, jnp.zeros((1, 3, 8, 17, 3)))
  with pytest.raises(ValueError, match=r"\(N, M, T, V, C\)"):
    shape(gcn, jnp.zeros((2, 8, 17, 3)))
  with pytest.raises(TypeError, match=r"graph_cfg keys \['layot'\]"):
    shape(dict(gcn, backbone=dict(type="AGCN", in_channels=3, graph_cfg=dict(layot="coco"))),
          jnp.zeros((1, 2, 8, 17, 3)))
  with pytest.raises(ValueError, match="AGCN mixes 3 graph partitions; graph_cfg gives 2"):
    shape(dict(gcn, backbone=dict(type="AGCN", in_channels=3,
                                  graph_cfg=dict(layout="coco", strategy="distance", max_hop=1))),
          jnp.zeros((1, 2, 8, 17, 3)))
  # No edge importance, no data_bn, dropout: fewer parameters, same shapes.
  plain = dict(gcn, backbone=dict(gcn["backbone"], edge_importance_weighting=False,
                                  data_bn=False, dropout=0.5))
  v = shape(plain, jnp.zeros((1, 2, 8, 17, 3)))
  assert not [k for k in v["params"]["backbone"] if k.startswith(("edge_importance", "data_bn"))]
  # Babel's configs: one person per clip.
  one = dict(gcn, cls_head=dict(gcn["cls_head"], num_person=1, spatial_type="max"))
  out = jax.eval_shape(lambda v, x: build_model(one).apply(v, x),
                       shape(one, jnp.zeros((3, 1, 8, 17, 3))), jnp.zeros((3, 1, 8, 17, 3)))
  assert out.shape == (3, 1, 4)


def test_recognizer_interface():
  model = build_model(CASES["stgcn_ntu"]["model"])
  scores = jnp.arange(6.0).reshape(2, 1, 3)
  np.testing.assert_array_equal(model.test_scores(scores), scores[:, 0])  # no softmax
  with pytest.raises(ValueError, match="one view per clip"):
    model.test_scores(jnp.zeros((2, 3, 3)))
  params = {"backbone": {"data_bn": {"scale": 1}}, "cls_head": {"fc": {"kernel": 1}}}
  assert not any(jax.tree.leaves(model.frozen_mask(params)))
  assert MODELS.get("SkeletonGCN") is type(model)


@pytest.mark.parametrize("frames,stride,form", [(12, 1, "conv1d"), (12, 2, "taps"),
                                                (8, 1, "taps"), (17, 2, "conv1d")])
def test_temporal_conv_gradient_equals_the_native_convolution(frames, stride, form):
  # The 9x1 convs run as 1D convolutions over (clip, person, joint) rows on the CPU, or, when
  # fewer output frames than taps ((12 + 8 - 9) // 2 + 1 = 6, 8), as one product over the
  # stacked taps; values and both gradients must be the native 2D convolution's.
  x = jax.random.normal(jax.random.key(1), (2, frames, 5, 4))
  k = jax.random.normal(jax.random.key(2), (9, 1, 4, 6))
  pad = ((4, 4), (0, 0))
  dn = jax.lax.conv_dimension_numbers(x.shape, k.shape, ("NHWC", "HWIO", "NHWC"))
  strides = (stride, 1)
  ours = lambda x, k: temporal_conv_general_dilated(x, k, strides, pad,  # noqa: E731
                                                    dimension_numbers=dn)
  native = lambda x, k: jax.lax.conv_general_dilated(x, k, strides, pad,  # noqa: E731
                                                     dimension_numbers=dn)
  convs = [e for e in jax.make_jaxpr(ours)(x, k).eqns if e.primitive.name == "conv_general_dilated"]
  if form == "taps":
    assert not convs
  else:  # 1D, joints in the batch
    assert len(convs) == 1 and convs[0].invars[0].aval.shape == (2 * 5, frames, 4)
  np.testing.assert_allclose(ours(x, k), native(x, k), rtol=1e-5, atol=1e-5)
  cot = jax.random.normal(jax.random.key(3), native(x, k).shape)
  got = jax.vjp(ours, x, k)[1](cot)
  want = jax.vjp(native, x, k)[1](cot)
  for a, b in zip(got, want):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ shipped configs
def _input_shape(model_cfg) -> tuple:
  if model_cfg["type"] == "Recognizer3D":  # PoseC3D heatmaps, one view
    return (1, 1, 8, 32, 32, model_cfg["backbone"]["in_channels"])
  backbone, head = model_cfg["backbone"], model_cfg["cls_head"]
  joints = Graph(**backbone["graph_cfg"]).num_node
  return (1, head.get("num_person", 2), 12, joints, backbone["in_channels"])


@pytest.mark.skipif(not SKELETON_CONFIGS, reason="mmaction2==0.24.1 (its config files) is not "
                    "installed; `make install` installs it with --no-deps")
def test_every_shipped_skeleton_config_builds():
  assert len(SKELETON_CONFIGS) == 16
  for path in SKELETON_CONFIGS:
    cfg = load_any_config(path).model.to_dict()
    model = build_model(cfg)
    x = jax.ShapeDtypeStruct(_input_shape(cfg), jnp.float32)
    out, v = jax.eval_shape(lambda x: model.init_with_output({"params": KEY}, x), x)
    assert out.shape == (1, 1, cfg["cls_head"]["num_classes"]), path
    assert v["params"]["backbone"], path
