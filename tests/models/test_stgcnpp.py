"""ST-GCN++ (``STGCNPlusPlus``, MMAction2 1.x's STGCN) against MMAction2 1.2.0.

Goldens (tests/golden/stgcnpp, tests/reference/make_golden_stgcnpp.py in the reference venv
with 1.2.0's modules): 1.x's Graph for every layout and mode, the backbone's eval- and
train-mode outputs for seeded weights (redrawn here by torch name and imported by name,
strict), and the state-dict keys of the config's full model. 1.x's output (N, M, C, T, V) is
vjax's (N * M, T, V, C). One jitted call per model.
"""

from __future__ import annotations

import json
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import traverse_util

from tests.reference import golden_weights
from vjax.config import load_config
from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.models import MODELS, build_model
from vjax.models.backbones.stgcnpp import STGCNPlusPlus, UnitGCN, graph_v1, mstcn_widths

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "stgcnpp"
CASES = {c["name"]: c for c in json.loads((GOLDEN / "cases.json").read_text())}
IO = dict(np.load(GOLDEN / "io.npz"))
KEYS = json.loads((GOLDEN / "keys.json").read_text())
KEY = jax.random.key(0)
RTOL = 1e-4


def state_dict(case, skip=()) -> dict[str, np.ndarray]:
  state = {}
  for key, shape, expected in case["tensors"]:
    if any(key.endswith(s) for s in skip):
      continue
    state[key] = golden_weights.tensor(case["seed"], key, shape)
    assert np.allclose(golden_weights.checksum(state[key]), expected, rtol=1e-9, atol=1e-9), key
  return state


def torch_layout(y: np.ndarray) -> np.ndarray:
  """vjax (N * M, T, V, C) -> 1.x's (N, M, C, T, V) for N = M = 2."""
  rows, t, v, c = y.shape
  return np.asarray(y).reshape(2, rows // 2, t, v, c).transpose(0, 1, 4, 2, 3)


def assert_close(got, expected, what):
  got, expected = np.asarray(got), np.asarray(expected)
  assert got.shape == expected.shape, (what, got.shape, expected.shape)
  scale = max(1.0, float(np.abs(expected).max()))
  diff = float(np.abs(got - expected).max())
  assert diff <= RTOL * scale, f"{what}: max |vjax - MMAction2 1.x| = {diff:.3g} ({scale:.3g})"


class Loaded:
  """A golden backbone with 1.x's weights; ``run`` = jitted (eval output, train output)."""

  def __init__(self, name: str, skip=()):
    self.case = CASES[name]
    self.model = STGCNPlusPlus(**self.case["kwargs"])
    self.x = jnp.asarray(IO[f"{name}/input"])
    target = jax.eval_shape(lambda: nn.unbox(self.model.init({"params": KEY}, self.x)))
    self.variables, report = convert_state_dict(state_dict(self.case, skip), target)
    assert report.loaded == len(jax.tree.leaves(target))
    model = self.model

    def run(v, x):
      train, _ = model.apply(v, x, train=True, mutable=["batch_stats"])
      return model.apply(v, x, train=False), train

    self.eval_out, self.train_out = jax.jit(run)(self.variables, self.x)


@pytest.fixture(scope="module")
def stgcnpp():
  return Loaded("stgcnpp")


# ------------------------------------------------------------------ graph
def test_graph_equals_mmaction2_1x():
  golden = dict(np.load(GOLDEN / "graphs.npz"))
  assert len(golden) == 12
  for key, a in golden.items():
    layout, mode, hop = key.split("/")
    got = graph_v1(dict(layout=layout, mode=mode, max_hop=int(hop)))
    np.testing.assert_allclose(got, a, atol=1e-7, err_msg=key)
  custom = graph_v1(dict(layout=dict(num_node=2, inward=[(1, 0)], center=0), mode="spatial"))
  np.testing.assert_array_equal(custom, [np.eye(2), [[0, 1], [0, 0]], [[0, 0], [1, 0]]])
  with pytest.raises(TypeError, match="strategy"):
    graph_v1(dict(layout="coco", strategy="spatial"))
  with pytest.raises(ValueError, match="not one of MMAction2 1.x"):
    graph_v1(dict(layout="ntu-rgb+d"))


# ------------------------------------------------------------------ parity
def test_stgcnpp_matches_mmaction2_1x_eval_and_train_mode(stgcnpp):
  assert stgcnpp.eval_out.shape == (4, 6, 17, 32)
  assert_close(torch_layout(stgcnpp.eval_out), IO["stgcnpp/output"], "eval")
  assert_close(torch_layout(stgcnpp.train_out), IO["stgcnpp/train_output"], "train")


def test_plain_1x_stgcn_options_match_mmaction2_1x():
  # 1.x's own defaults (importance-scaled fixed graph, one 9x1 unit_tcn) plus the MVC data
  # BN, conv after the mixing and the stgcn_spatial graph. The fixed graph's buffers
  # ``gcn.i.gcn.A`` are in the golden state dict, so a strict import must pass them by.
  case = CASES["stgcn_v1"]
  kw = case["kwargs"]
  assert "gcn_adaptive" not in kw and "tcn_type" not in kw  # 1.x's defaults; vjax's are ++'s
  model = STGCNPlusPlus(**kw, gcn_adaptive="importance", gcn_with_res=False,
                        tcn_type="unit_tcn")
  x = jnp.asarray(IO["stgcn_v1/input"])
  target = jax.eval_shape(lambda: nn.unbox(model.init({"params": KEY}, x)))
  state = state_dict(case, skip=(".gcn.A",))  # kept, not drawn: they hold 1.x's graph
  buffers = [key for key, _, _ in case["tensors"] if key.endswith(".gcn.A")]
  assert len(buffers) == kw["num_stages"]  # one per block
  state.update({k: np.asarray(graph_v1(kw["graph_cfg"]), np.float32) for k in buffers})
  variables, report = convert_state_dict(state, target)
  assert report.loaded == len(jax.tree.leaves(target)) and not report.problems()
  assert all(p[-1] != "A" for p in traverse_util.flatten_dict(variables))  # vjax computes A
  out = jax.jit(lambda v, x: model.apply(v, x))(variables, x)
  assert_close(torch_layout(out), IO["stgcn_v1/output"], "stgcn_v1 eval")


# ------------------------------------------------------------------ config and checkpoints
def expected_block_keys(i: int, c_in: int, c_out: int, stride: int, first: bool) -> list[str]:
  """The state-dict keys of 1.x's ST-GCN++ block ``gcn.i`` (read off its source)."""
  bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
  conv = ("weight", "bias")
  p = f"gcn.{i}."
  keys = [p + "gcn.A"] + [p + f"gcn.bn.{s}" for s in bn] + [p + f"gcn.conv.{s}" for s in conv]
  if c_in != c_out:
    keys += [p + f"gcn.down.0.{s}" for s in conv] + [p + f"gcn.down.1.{s}" for s in bn]
  for b in range(4):  # (3, d) branches: 1x1 conv, BN, ReLU, dilated unit_tcn (no BN)
    keys += [p + f"tcn.branches.{b}.0.{s}" for s in conv]
    keys += [p + f"tcn.branches.{b}.1.{s}" for s in bn]
    keys += [p + f"tcn.branches.{b}.3.conv.{s}" for s in conv]
  keys += [p + f"tcn.branches.4.0.{s}" for s in conv] + [p + f"tcn.branches.4.1.{s}" for s in bn]
  keys += [p + f"tcn.branches.5.{s}" for s in conv]
  keys += [p + f"tcn.transform.0.{s}" for s in bn] + [p + f"tcn.transform.2.{s}" for s in conv]
  keys += [p + f"tcn.bn.{s}" for s in bn]
  if not first and (c_in != c_out or stride != 1):
    keys += [p + f"residual.conv.{s}" for s in conv] + [p + f"residual.bn.{s}" for s in bn]
  return keys


def test_config_model_shapes_init_and_1x_checkpoint_import():
  c = load_config(str(ROOT / "configs" / "stgcnpp_ntu60.py"))
  model = build_model(c.model)
  x = jnp.zeros((1, 2, 100, 17, 3))
  variables = jax.eval_shape(lambda: nn.unbox(model.init({"params": KEY}, x)))
  scores = jax.eval_shape(lambda v: model.apply(v, x), variables)
  assert scores.shape == (1, 1, 60)
  backbone = build_model(c.model.backbone)
  feat = jax.eval_shape(lambda v: backbone.apply(v, x), {k: v["backbone"]
                                                         for k, v in variables.items()})
  assert feat.shape == (2, 25, 17, 256)  # 100 frames, strides 2 at stages 5 and 8
  assert c.model.cls_head.in_channels == 64 * 2 ** 2

  # Hand-derived 1.x key names: 3 -> 64 (no residual), 64 x3, 64 -> 128 / 2, 128 x2,
  # 128 -> 256 / 2, 256 x2; plus data_bn.
  plan = [(3, 64, 1), (64, 64, 1), (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1),
          (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 256, 1)]
  expected = [f"data_bn.{s}" for s in ("weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked")]
  for i, (ci, co, s) in enumerate(plan):
    expected += expected_block_keys(i, ci, co, s, first=i == 0)
  golden_keys = {k: tuple(shape) for k, shape in KEYS["keys"]}
  assert sorted(expected) == sorted(golden_keys)
  assert all(KEYS["checks"].values())

  # A 1.x recognizer's state dict (backbone + GCNHead's Linear fc) imports by name, strictly.
  state = {f"backbone.{k}": np.full(shape, 0.5, np.float32) for k, shape in golden_keys.items()}
  state["cls_head.fc.weight"] = np.arange(60 * 256, dtype=np.float32).reshape(60, 256)
  state["cls_head.fc.bias"] = np.zeros((60,), np.float32)
  loaded, report = convert_state_dict(state, variables)
  assert report.loaded == len(jax.tree.leaves(variables))
  flat = traverse_util.flatten_dict(loaded)
  assert flat[("params", "backbone", "gcn_7", "tcn", "branches_5", "kernel")].shape == (
      1, 1, 256, 42)  # the tcn runs on the gcn's 256: six branches of 46, then 42 each
  assert flat[("params", "backbone", "gcn_7", "tcn", "branches_0_0", "kernel")].shape == (
      1, 1, 256, 46)
  assert flat[("params", "backbone", "gcn_3", "gcn", "A")].shape == (3, 17, 17)
  np.testing.assert_array_equal(flat[("params", "cls_head", "fc", "kernel")],
                                state["cls_head.fc.weight"].T)


def test_gcn_head_by_hand():
  """1.x's GCNHead: mean over (T, V), mean over the M persons, dropout, Linear; test scores
  softmaxed ('prob'). Computed here in numpy from the same weights."""
  from vjax.models.heads.stgcn_head import GCNHead  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  feat = rng.normal(size=(2 * 2, 5, 17, 8)).astype(np.float32)  # N=2 clips x M=2, T, V, C
  head = GCNHead(num_classes=3, in_channels=8, dropout=0.5)
  params = nn.unbox(head.init({"params": KEY}, jnp.asarray(feat)))
  w = np.asarray(params["params"]["fc"]["kernel"])
  assert w.shape == (8, 3) and 0.005 < w.std() < 0.02  # Normal(std=0.01), as 1.x's init_cfg
  w = rng.normal(size=(8, 3)).astype(np.float32)
  b = rng.normal(size=(3,)).astype(np.float32)
  params = {"params": {"fc": {"kernel": w, "bias": b}}}
  expected = feat.mean(axis=(1, 2)).reshape(2, 2, 8).mean(axis=1) @ w + b
  got = head.apply(params, jnp.asarray(feat))  # eval: dropout off
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  dropped = head.apply(params, jnp.asarray(feat), train=True,
                       rngs={"dropout": jax.random.key(1)})
  assert not np.allclose(dropped, expected, atol=1e-3)  # dropout is on in training

  model = build_model(dict(
      type="SkeletonGCN",
      backbone=dict(type="STGCNPlusPlus", graph_cfg=dict(layout="coco", mode="spatial"),
                    base_channels=8, num_stages=1),
      cls_head=dict(type="GCNHead", num_classes=3, in_channels=8), train_cfg=None,
      test_cfg=None))
  scores = jnp.asarray(rng.normal(size=(2, 1, 3)), jnp.float32)
  probs = np.exp(scores[:, 0]) / np.exp(scores[:, 0]).sum(-1, keepdims=True)
  np.testing.assert_allclose(model.test_scores(scores), probs, rtol=1e-6)
  plain = build_model(dict(type="SkeletonGCN", backbone=dict(model.backbone),
                           cls_head=dict(type="STGCNHead", num_classes=3, in_channels=8),
                           train_cfg=None, test_cfg=None))
  np.testing.assert_array_equal(plain.test_scores(scores), scores[:, 0])  # 0.24.1: raw


def test_mstcn_widths_and_branch_structure():
  assert mstcn_widths(64, 6, None) == (14, 10)
  assert mstcn_widths(256, 6, None) == (46, 42)
  assert mstcn_widths(64, 6, 0.25) == (16, 16)
  model = STGCNPlusPlus(graph_cfg=dict(layout="coco"), base_channels=14, num_stages=2,
                        inflate_stages=(2,), down_stages=(2,))
  x = jnp.zeros((1, 2, 9, 17, 3))
  variables = jax.eval_shape(lambda: model.init({"params": KEY}, x))
  tcn = nn.unbox(variables)["params"]["gcn_1"]["tcn"]  # 14 -> 28, stride 2
  assert sorted(tcn) == sorted(["bn", "branches_4_0", "branches_4_1", "branches_5",
                                 "transform_0", "transform_2",
                                 *(f"branches_{b}_{j}" for b in range(4) for j in (0, 1, 3))])
  widths = [tcn[f"branches_{b}_0"]["kernel"].shape[-1] for b in range(5)]
  assert widths + [tcn["branches_5"]["kernel"].shape[-1]] == [8, 4, 4, 4, 4, 4]
  for b in range(4):  # (3, d) taps: a 3x1 kernel, dilation d + 1 gives its reach
    assert tcn[f"branches_{b}_3"]["conv"]["kernel"].shape == (3, 1, widths[b], widths[b])
  assert tcn["transform_2"]["kernel"].shape == (1, 1, 28, 28)
  assert set(nn.unbox(variables)["batch_stats"]["gcn_1"]["tcn"]) == {
      "bn", "transform_0", *(f"branches_{b}_1" for b in range(5))}
  out = jax.eval_shape(lambda v: model.apply(v, x), variables)
  assert out.shape == (2, 5, 17, 28)  # ceil(9 / 2) frames from every branch


def test_unit_gcn_by_hand():
  # 2 joints, K = 2 partitions, 1 -> 2 channels, eval-mode BN with unit statistics.
  a = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.5], [1.0, 0.0]]])
  unit = UnitGCN(2, adaptive="init", with_res=False)
  x = np.array([[[[1.0], [-2.0]], [[0.5], [3.0]]]])  # (n=1, t=2, v=2, c=1)
  variables = nn.unbox(unit.init({"params": KEY}, x, a))
  np.testing.assert_array_equal(variables["params"]["A"], a)  # 'init': A is a parameter
  w = np.array([[0.3, -0.2, 1.0, 0.7]])  # conv 1 -> K * C = 4, torch's (K, C) order
  b = np.array([0.1, 0.0, -0.1, 0.2])
  learnt_a = a + np.array([[[0.0, 0.2], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
  params = dict(variables["params"], A=learnt_a, conv=dict(kernel=w.reshape(1, 1, 1, 4), bias=b))
  y = unit.apply(dict(variables, params=params), x, a)
  expected = np.zeros((1, 2, 2, 2))
  for t in range(2):
    z = x[0, t] @ w + b  # (v, K * C)
    for wj in range(2):
      for ch in range(2):
        expected[0, t, wj, ch] = sum(z[v, k * 2 + ch] * learnt_a[k, v, wj]
                                     for k in range(2) for v in range(2))
  expected = np.maximum(expected / np.sqrt(1 + 1e-5), 0)
  np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
  assert (expected > 0).any() and (expected == 0).any()


def test_train_step_lowers_the_loss_and_learns_the_adjacency():
  model = build_model(dict(
      type="SkeletonGCN",
      backbone=dict(type="STGCNPlusPlus", graph_cfg=dict(layout="coco", mode="spatial"),
                    base_channels=12, num_stages=2, inflate_stages=(2,), down_stages=(2,)),
      cls_head=dict(type="STGCNHead", num_classes=4, in_channels=24), train_cfg=None,
      test_cfg=None))
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(4, 2, 8, 17, 3)), jnp.float32)
  labels = jnp.array([0, 1, 2, 3])
  variables = nn.unbox(jax.jit(model.init)({"params": KEY}, x))  # eager init: 4x slower
  a0 = variables["params"]["backbone"]["gcn_1"]["gcn"]["A"]  # 12 -> 24, stride 2
  np.testing.assert_allclose(a0, graph_v1(dict(layout="coco", mode="spatial")), atol=1e-7)
  tx = optax.adam(0.01)

  def loss_fn(params, stats):
    scores, new = model.apply(dict(params=params, batch_stats=stats), x, train=True,
                              mutable=["batch_stats"])
    return optax.softmax_cross_entropy_with_integer_labels(scores[:, 0], labels).mean(), new

  @jax.jit
  def step(params, stats, opt):
    (loss, new), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats)
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), new["batch_stats"], opt, loss

  params, stats = variables["params"], variables["batch_stats"]
  opt = tx.init(params)
  losses = []
  for _ in range(12):
    params, stats, opt, loss = step(params, stats, opt)
    losses.append(float(loss))
  assert losses[-1] < 0.5 * losses[0], losses
  assert float(jnp.abs(params["backbone"]["gcn_1"]["gcn"]["A"] - a0).max()) > 1e-4


def test_registration_arguments_and_synthetic_config():
  assert MODELS.get("STGCNPlusPlus") is STGCNPlusPlus
  assert MODELS.get("STGCN") is not STGCNPlusPlus  # 0.24's ST-GCN keeps its name
  model = STGCNPlusPlus(graph_cfg=dict(layout="coco"), tcn_type="unit_tcn",
                        tcn_dropout=(0.1,) * 10, gcn_adaptive=("init",) * 5 + ("offset",) * 5)
  stages = model.stage_options()
  assert "tcn_dropout" not in stages[0] and stages[1]["tcn_dropout"] == 0.1
  assert stages[4]["gcn_adaptive"] == "init" and stages[5]["gcn_adaptive"] == "offset"
  with pytest.raises(ValueError, match="expects 17 joints"):
    jax.eval_shape(lambda: model.init({"params": KEY}, jnp.zeros((1, 2, 4, 25, 3))))
  with pytest.raises(ValueError, match="tcn_type"):
    bad = STGCNPlusPlus(graph_cfg=dict(layout="coco"), tcn_type="tcn")
    jax.eval_shape(lambda: bad.init({"params": KEY}, jnp.zeros((1, 2, 4, 17, 3))))

  c = load_config(str(ROOT / "configs" / "stgcnpp_ntu60.py") + ":synthetic")
  assert c.data.train.name == "vjax_synthetic_skeleton"
  assert c.data.train.builder_config.layout == "coco2d"
  assert c.model.cls_head.num_classes == 10
  full = load_config(str(ROOT / "configs" / "stgcnpp_ntu60.py"))
  train = full.data.train
  assert (train.type, train.times, train.dataset.split) == ("RepeatDataset", 5, "xsub_train")
  assert train.pipeline[0] == dict(type="UniformSampleFrames", clip_len=100)
  assert full.data.test.pipeline[0]["test_mode"] and full.data.val.split == "xsub_val"
  assert full.optimizer.to_dict() == dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0005,
                                nesterov=True)
  assert full.lr_config["policy"] == "CosineAnnealing" and full.total_epochs == 16
  # PoseNormalize as 1.x's PreNormalize2D: pixel (x, y) -> [-1, 1] of a 1920 x 1080 frame.
  from vjax.data.ops_pose import PoseNormalize  # pylint: disable=g-import-not-at-top
  op = {k: v for k, v in train.pipeline[3].items() if k != "type"}
  kp = np.array([0.0, 1080.0, 0.7], np.float32).reshape(3, 1, 1, 1)
  out = PoseNormalize(**op)(dict(keypoint=kp))["keypoint"].ravel()
  np.testing.assert_allclose(out, [-1.0, 1.0, 0.7], rtol=1e-6)
