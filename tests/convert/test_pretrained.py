"""Pretrained backbone weights at training start (vjax.convert.pretrained).

The inflation goldens (tests/golden/inflate, written by tests/reference/make_golden_inflate.py
in the reference venv) hold what MMAction2 0.24.1's ``inflate_weights`` put into a ResNet3d
and into a SlowFast slow pathway from a seeded 2D checkpoint, and what it reported.
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

from tests.models import tiny
from vjax.convert import pretrained
from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.models import build_model
from vjax.train import mesh as mesh_lib
from vjax.train.loop import load_pretrained
from vjax.train.state import create_state

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "inflate"
META = json.loads((GOLDEN / "inflate.json").read_text())
IO = dict(np.load(GOLDEN / "inflate.npz"))
STAGES = dict(num_stages=3, spatial_strides=(1, 2, 2), temporal_strides=(1, 1, 1),
              dilations=(1, 1, 1), out_indices=(2,), stage_blocks=(1, 1, 1))
# The reference script's models (make_golden_inflate.py), as vjax configs.
RESNET3D = dict(type="ResNet3d", depth=18, pretrained2d=True, base_channels=4,
                conv1_kernel=(5, 7, 7), inflate=(1, 0, (1,)), non_local=(0, 0, 1),
                non_local_cfg=dict(sub_sample=True, norm_cfg=dict(type="BN3d")), **STAGES)
SLOWFAST = dict(type="ResNet3dSlowFast", resample_rate=4, speed_ratio=4, channel_ratio=4,
                slow_pathway=dict(type="resnet3d", depth=50, lateral=True, base_channels=4,
                                  conv1_kernel=(1, 7, 7), inflate=(0, 1, 1), **STAGES),
                fast_pathway=dict(type="resnet3d", depth=50, lateral=False, base_channels=1,
                                  conv1_kernel=(5, 7, 7), **STAGES))


def case(name):
  meta = next(c for c in META["cases"] if c["name"] == name)
  state2d = {k.split("/", 2)[2]: v for k, v in IO.items() if k.startswith(f"{name}/2d/")}
  filled = {k.split("/", 2)[2]: v for k, v in IO.items() if k.startswith(f"{name}/3d/")}
  return meta, state2d, filled


def variables_shape(cfg, x):
  model = build_model(cfg)
  return jax.eval_shape(lambda: nn.unbox(model.init({"params": jax.random.key(0)}, x)))


def flat(tree):
  return {tuple(str(k.key) for k in p): v
          for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def expected_arrays(meta, filled, target):
  """MMAction2's filled 3D tensors in vjax's layout, keyed like inflate_2d's output."""
  # Every 3D tensor of MMAction2's module has a vjax variable (names match one to one).
  everything = {k: np.zeros(s, np.float32) for k, s in meta["keys"]}
  convert_state_dict(everything, target, strict=True)
  variables, report = convert_state_dict(filled, target, strict=False)
  assert not report.unexpected and not report.mismatched
  out = {}
  for collection in variables:
    for path, v in flat(variables[collection]).items():
      if isinstance(v, np.ndarray):
        out[(collection,) + path] = v
  return out


@pytest.mark.parametrize("name", ["resnet3d_r18", "slowfast_slow_path"])
def test_inflation_matches_mmaction2(name):
  meta, state2d, filled = case(name)
  if name == "resnet3d_r18":
    target = variables_shape(RESNET3D, jnp.zeros((1, 8, 32, 32, 3)))
    pathway = False
  else:
    target = variables_shape(SLOWFAST, jnp.zeros((1, 16, 32, 32, 3)))
    target = {c: t["slow_path"] for c, t in target.items()}
    pathway = True
  got, report = pretrained.inflate_2d(state2d, target, pathway=pathway)
  want = expected_arrays(meta, filled, target)
  assert set(got) == set(want)
  for key, value in want.items():
    assert got[key].dtype == np.float32
    np.testing.assert_array_equal(got[key], value, err_msg="/".join(key))
  # The same modules reported as MMAction2's logger did.
  assert sorted(report.missing) == meta["missing"]
  assert [m.split(".weight")[0] for m in report.mismatched] == meta["mismatched"]
  assert report.unused == meta["unused"]
  if pathway:  # laterals are left alone; stage inputs got zeros for the lateral channels
    assert not any("lateral" in "/".join(k) for k in got)
    kernel = got[("params", "layer1_0", "conv1", "conv", "kernel")]
    assert kernel.shape[3] == 4 + 2 and not kernel[:, :, :, 4:].any()


def test_pretrained_variables_reads_the_pathway_checkpoint(tmp_path):
  _, state2d, _ = case("slowfast_slow_path")
  np.savez(tmp_path / "r50_2d.npz", **state2d)
  cfg = dict(type="Recognizer3D",
             backbone=dict(SLOWFAST, slow_pathway=dict(SLOWFAST["slow_pathway"],
                                                       pretrained=str(tmp_path / "r50_2d.npz"))),
             cls_head=dict(type="SlowFastHead", in_channels=64 + 16, num_classes=3))
  assert pretrained.wants_pretrained(cfg)
  target = variables_shape(cfg, jnp.zeros((1, 1, 16, 32, 32, 3)))
  arrays, report = pretrained.pretrained_variables(cfg, target)
  sub = {c: t["backbone"]["slow_path"] for c, t in target.items()}
  direct, _ = pretrained.inflate_2d(state2d, sub, pathway=True)
  assert set(arrays) == {(k[0], "backbone", "slow_path") + k[1:] for k in direct}
  assert report.unused and all(u.startswith("slow_path: ") for u in report.unused)
  assert not any(k[2] == "fast_path" for k in arrays)


def test_torchvision_keys_rename_to_mmaction2():
  _, state2d, _ = case("slowfast_slow_path")
  renamed = pretrained.torchvision_to_mmaction2(state2d)
  assert len(renamed) == len(state2d)
  for tv, mm in [("conv1.weight", "conv1.conv.weight"), ("bn1.running_var", "conv1.bn.running_var"),
                 ("layer1.0.conv3.weight", "layer1.0.conv3.conv.weight"),
                 ("layer2.0.bn2.bias", "layer2.0.conv2.bn.bias"),
                 ("layer3.0.downsample.0.weight", "layer3.0.downsample.conv.weight"),
                 ("layer3.0.downsample.1.running_mean", "layer3.0.downsample.bn.running_mean"),
                 ("fc.weight", "fc.weight")]:
    assert renamed[mm] is state2d[tv]


def torchvision_state_of(variables):
  """A torchvision-named state dict with the shapes of a vjax 2D ResNet's variables."""
  state, rng = {}, np.random.default_rng(0)
  for collection in ("params", "batch_stats"):
    for path, v in flat(variables[collection]).items():
      module, leaf = ".".join(path[:-2]).replace("_", "."), path[-1]
      if path[-2] == "conv":
        tv = {"conv1": "conv1"}.get(module, module)
        if tv.endswith("downsample"):
          tv += ".0"
        state[tv + ".weight"] = rng.normal(size=v.shape).astype(np.float32).transpose(3, 2, 0, 1)
      else:
        tv = "bn1" if module == "conv1" else (
            module + ".1" if module.endswith("downsample") else
            module[:-len("convK")] + "bn" + module[-1])
        torch_leaf = {"scale": "weight", "bias": "bias", "mean": "running_mean",
                      "var": "running_var"}[leaf]
        state[f"{tv}.{torch_leaf}"] = rng.normal(size=v.shape).astype(np.float32)
  state["fc.weight"] = np.zeros((10, 64), np.float32)
  return state


def test_torchvision_checkpoint_loads_into_wrapped_2d_resnets(tmp_path, monkeypatch):
  """TSN's ResNet and a TSM with non-local blocks and temporal pooling read a torchvision
  checkpoint by the module names MMAction2 had before wrapping them."""
  plain = dict(type="ResNet", depth=18, base_channels=8)
  x = jnp.zeros((8, 32, 32, 3))  # two clips of 4 segments
  state = torchvision_state_of(variables_shape(plain, x))
  (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
  np.savez(tmp_path / "hub" / "checkpoints" / "resnet18.npz", **state)
  monkeypatch.setenv("TORCH_HOME", str(tmp_path))
  for cfg in (plain, dict(plain, type="ResNetTSM", num_segments=4, temporal_pool=True,
                          non_local=(0, (1, 0), 0, 0),
                          non_local_cfg=dict(sub_sample=False, mode="dot_product"))):
    cfg = dict(cfg, pretrained="torchvision://resnet18")
    target = variables_shape(cfg, x)
    arrays, report = pretrained.backbone_variables(cfg, target)
    assert report.unused == ["fc.weight"] and report.path.endswith("resnet18.npz")
    n_weights = len(state) - 1
    assert len(arrays) == n_weights
    if cfg["type"] == "ResNetTSM":  # shift, temporal pool and non-local wrappers
      kernel = arrays[("params", "layer2", "net_0", "block", "conv1", "conv", "net", "kernel")]
      assert all("non_local_block" in m for m in report.missing)
    else:
      kernel = arrays[("params", "layer2_0", "conv1", "conv", "kernel")]
    np.testing.assert_array_equal(kernel, state["layer2.0.conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(arrays[("batch_stats", "conv1", "bn", "var")],
                                  state["bn1.running_var"])


def test_missing_checkpoints_say_where_to_put_them(tmp_path, monkeypatch):
  monkeypatch.setenv("TORCH_HOME", str(tmp_path))
  cache = tmp_path / "hub" / "checkpoints"
  with pytest.raises(FileNotFoundError, match=f"resnet50-0676ba61.pth is not in {cache}"):
    pretrained.resolve_checkpoint("torchvision://resnet50")
  url = "https://download.openmmlab.com/mmaction/x/ircsn_from_scratch_r152_ig65m.pth"
  with pytest.raises(FileNotFoundError, match=f"download it to {cache}/ircsn_from_scratch"):
    pretrained.resolve_checkpoint(url)
  with pytest.raises(ValueError, match="cannot be resolved offline"):
    pretrained.resolve_checkpoint("mmcls://mobilenet_v2")
  with pytest.raises(FileNotFoundError, match="no such file"):
    pretrained.resolve_checkpoint(str(tmp_path / "nope.pth"))
  cache.mkdir(parents=True)
  (cache / "resnet50-0676ba61.pth").write_bytes(b"")
  (cache / "ircsn_from_scratch_r152_ig65m.pth").write_bytes(b"")
  assert pretrained.resolve_checkpoint("torchvision://resnet50") == str(
      cache / "resnet50-0676ba61.pth")
  assert pretrained.resolve_checkpoint(url) == str(cache / "ircsn_from_scratch_r152_ig65m.pth")


def test_unusable_checkpoints_are_errors(tmp_path):
  _, state2d, _ = case("resnet3d_r18")
  np.savez(tmp_path / "r18.npz", **state2d)
  x = jnp.zeros((1, 8, 32, 32, 3))
  # A 2D checkpoint read as a 3D one (pretrained2d=False) matches nothing.
  cfg = dict(RESNET3D, pretrained=str(tmp_path / "r18.npz"), pretrained2d=False)
  with pytest.raises(ValueError, match="nothing in it matches the backbone"):
    pretrained.backbone_variables(cfg, variables_shape(cfg, x))
  r2plus1d = dict(type="ResNet2Plus1d", depth=18, pretrained=str(tmp_path / "r18.npz"),
                  pretrained2d=False, conv_cfg=dict(type="Conv2plus1d"))
  assert pretrained.backbone_variables(dict(r2plus1d, pretrained=None), {}) == ({}, None)
  with pytest.raises(ValueError, match="cannot inflate a 2D checkpoint into Conv2plus1d"):
    pretrained.backbone_variables(dict(RESNET3D, pretrained=str(tmp_path / "r18.npz"),
                                       conv_cfg=dict(type="Conv2plus1d")), {})


def test_training_init_loads_pretrained_into_the_sharded_state(tmp_path):
  _, state2d, _ = case("resnet3d_r18")
  np.savez(tmp_path / "r18.npz", **state2d)
  cfg = dict(type="Recognizer3D", backbone=dict(RESNET3D, pretrained=str(tmp_path / "r18.npz")),
             cls_head=dict(type="I3DHead", in_channels=16, num_classes=3))
  model = build_model(cfg)
  mesh = mesh_lib.make_mesh((("data", -1), ("fsdp", 1), ("model", 1)))
  state, shardings = create_state(model, optax.sgd(0.1), mesh, jnp.zeros((1, 1, 8, 32, 32, 3)),
                                  0)
  new = load_pretrained(state, shardings, tiny.task(cfg))
  kernel = new.params["backbone"]["layer1_0"]["conv1"]["conv"]["kernel"]
  np.testing.assert_array_equal(
      kernel, np.broadcast_to(state2d["layer1.0.conv1.weight"].transpose(2, 3, 1, 0)[None],
                              kernel.shape) / 3)
  assert kernel.sharding == state.params["backbone"]["layer1_0"]["conv1"]["conv"]["kernel"].sharding
  np.testing.assert_array_equal(new.batch_stats["backbone"]["conv1"]["bn"]["mean"],
                                state2d["bn1.running_mean"])
  # Not in the checkpoint: kept as initialised.
  np.testing.assert_array_equal(new.params["cls_head"]["fc_cls"]["kernel"],
                                state.params["cls_head"]["fc_cls"]["kernel"])


def test_image_transformer_checkpoint_loads_into_divided_attention(tmp_path):
  # An image (ViT-layout) checkpoint: the space-only TimeSformer golden's state dict has the
  # mmcv ViT names (norms.0, attentions.0, norms.1, ffns.0). MMAction2 rewrites it for
  # divided attention: both attentions start from the image attention, its norms move in.
  from tests.convert import golden  # pylint: disable=g-import-not-at-top
  image = {k[len("backbone."):]: v
           for k, v in golden.state_dict(golden.CASES["timesformer_spaceonly"]).items()
           if k.startswith("backbone.")}
  np.savez(tmp_path / "vit.npz", **image)
  backbone = dict(golden.CASES["timesformer_divst"]["model"]["backbone"],
                  pretrained=str(tmp_path / "vit.npz"))
  cfg = dict(type="Recognizer3D", backbone=backbone,
             cls_head=dict(type="TimeSformerHead", num_classes=3, in_channels=64))
  target = variables_shape(cfg, jnp.zeros((1, 1, 4, 32, 32, 3)))
  arrays, report = pretrained.pretrained_variables(cfg, target)
  layer = ("params", "backbone", "transformer_layers", "layers_0")
  w = image["transformer_layers.layers.0.attentions.0.attn.in_proj_weight"]
  for attn in ("attentions_0", "attentions_1"):  # temporal and spatial attention
    np.testing.assert_array_equal(arrays[layer + (attn, "attn", "in_proj", "kernel")], w.T)
  np.testing.assert_array_equal(arrays[layer + ("attentions_0", "norm", "scale")],
                                image["transformer_layers.layers.0.norms.0.weight"])
  np.testing.assert_array_equal(arrays[layer + ("ffns_0", "norm", "scale")],
                                image["transformer_layers.layers.0.norms.1.weight"])
  # Only the temporal attention's extra projection and the time embedding start fresh.
  assert sorted(m.split(" ")[0] for m in report.missing) == sorted(
      [f"params/transformer_layers/layers_{i}/attentions_0/temporal_fc/{leaf}"
       for i in range(2) for leaf in ("kernel", "bias")] + ["params/time_embed"])


def test_library_download_flag_is_an_error_naming_the_fix():
  # torchvision./timm. backbones take pretrained=True ("download ImageNet weights"), which
  # vjax cannot honour; it must not be ignored silently.
  cfg = dict(type="torchvision.densenet161", pretrained=True)
  assert pretrained.wants_pretrained(dict(backbone=cfg))
  with pytest.raises(ValueError, match="pretrained=True.*downloads nothing.*local"):
    pretrained.backbone_variables(cfg, {})
