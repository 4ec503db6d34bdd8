"""Importing MMAction2 state dicts: key mapping, strictness, file formats and the CLI."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.convert import golden
from vjax.convert import load
from vjax.convert import mmaction2_checkpoint as ckpt
from vjax.models import build_model
from vjax.train import mesh as mesh_lib
from vjax.train.checkpoint import load_params
from vjax.train.state import abstract_state, create_state

CASE = golden.CASES["tsn_r18_small"]
NPZ = str(golden.GOLDEN / "tsn_r18_small.state.npz")


def small_model():
  model = build_model(golden.vjax_model_cfg(CASE))
  x = jnp.zeros((1, 3, 32, 32, 3))
  return model, x, jax.eval_shape(lambda: model.init(jax.random.key(0), x))


def test_names_and_layouts_map_without_a_table():
  assert ckpt.canonical("backbone.layer1.0.conv1.conv".split(".")) == \
      ckpt.canonical(["backbone", "layer1_0", "conv1", "conv"])
  assert ckpt.canonical(["neck", "level_fusion_1"]) == "neck.level_fusion.1"
  conv = np.arange(4 * 3 * 2 * 5 * 7).reshape(4, 3, 2, 5, 7)  # torch (out, in, kT, kH, kW)
  assert ckpt.torch_layout("kernel", conv).shape == (2, 5, 7, 3, 4)
  np.testing.assert_array_equal(ckpt.torch_layout("kernel", conv)[1, 2, 3], conv[:, :, 1, 2, 3].T)
  assert ckpt.torch_layout("kernel", np.zeros((10, 64))).shape == (64, 10)
  assert ckpt.torch_layout("scale", np.zeros(5)).shape == (5,)


def test_golden_state_dict_fills_every_variable():
  _, _, target = small_model()
  state = golden.state_dict(CASE)
  variables, report = ckpt.convert_state_dict(state, target)
  assert report.problems() == []
  assert report.loaded == len(jax.tree.leaves(target))
  k = variables["params"]["backbone"]["layer1_0"]["conv1"]["conv"]["kernel"]
  np.testing.assert_array_equal(
      k, state["backbone.layer1.0.conv1.conv.weight"].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(variables["batch_stats"]["backbone"]["conv1"]["bn"]["var"],
                                state["backbone.conv1.bn.running_var"])
  np.testing.assert_array_equal(variables["params"]["cls_head"]["fc_cls"]["kernel"],
                                state["cls_head.fc_cls.weight"].T)


def test_strict_lists_every_problem():
  _, _, target = small_model()
  state = dict(golden.state_dict(CASE))
  del state["backbone.layer1.1.conv2.bn.running_mean"]
  state["backbone.layer5.0.conv1.conv.weight"] = np.zeros((3, 3, 1, 1), np.float32)
  state["cls_head.fc_cls.weight"] = np.zeros((7, 64), np.float32)
  with pytest.raises(ValueError) as e:
    ckpt.convert_state_dict(state, target)
  msg = str(e.value)
  assert "3 problems" in msg
  assert "unexpected torch key backbone.layer5.0.conv1.conv.weight" in msg
  assert ("missing batch_stats/backbone/layer1_1/conv2/bn/mean "
          "(torch key backbone.layer1.1.conv2.bn.running_mean)") in msg
  assert ("shape params/cls_head/fc_cls/kernel <- cls_head.fc_cls.weight: torch (7, 64) -> "
          "(64, 7), vjax wants (64, 10)") in msg


def test_non_strict_loads_what_maps_and_reports_the_rest():
  _, _, target = small_model()
  state = dict(golden.state_dict(CASE))
  state.pop("cls_head.fc_cls.bias")
  state["extra.weight"] = np.ones(3, np.float32)
  variables, report = ckpt.convert_state_dict(state, target, strict=False)
  assert report.unexpected == ["extra.weight"]
  assert report.missing == ["params/cls_head/fc_cls/bias (torch key cls_head.fc_cls.bias)"]
  assert isinstance(variables["params"]["cls_head"]["fc_cls"]["bias"], jax.ShapeDtypeStruct)
  assert report.loaded == len(jax.tree.leaves(target)) - 1


def test_rules_handle_exceptions():
  _, _, target = small_model()
  state = {k.replace("fc_cls", "fc"): v for k, v in golden.state_dict(CASE).items()}
  rule = ckpt.Rule(r"cls_head/fc_cls/", torch_key=lambda k: k.replace("fc_cls", "fc"))
  _, report = ckpt.convert_state_dict(state, target, rules=[rule])
  assert report.problems() == []


def test_npz_and_safetensors_round_trip(tmp_path):
  state = golden.state_dict(CASE)
  np.savez(tmp_path / "plain.npz", **{f"module.{k}": v for k, v in state.items()})
  from safetensors.numpy import save_file
  save_file(state, str(tmp_path / "s.safetensors"))
  for name in ("plain.npz", "s.safetensors"):
    loaded = ckpt.load_state_dict(str(tmp_path / name))
    assert sorted(loaded) == sorted(state)
    for k, v in state.items():
      np.testing.assert_array_equal(loaded[k], v)
      assert loaded[k].dtype == v.dtype
  with pytest.raises(ValueError, match=r"expected .pth, .pt, .npz or .safetensors"):
    (tmp_path / "x.bin").write_bytes(b"")
    ckpt.load_state_dict(str(tmp_path / "x.bin"))


def test_pth_needs_torch_and_says_how_to_get_it(tmp_path, monkeypatch):
  path = tmp_path / "m.pth"
  path.write_bytes(b"not read")
  monkeypatch.setitem(sys.modules, "torch", None)
  with pytest.raises(ImportError, match="pip install torch"):
    ckpt.load_state_dict(str(path))


def test_pth_with_mmaction2_wrapping(tmp_path):
  torch = pytest.importorskip("torch")
  state = golden.state_dict(CASE)
  wrapped = {"meta": {"epoch": 3, "mmcv_version": "1.7.0"},
             "state_dict": {f"module.{k}": torch.from_numpy(v) for k, v in state.items()}}
  torch.save(wrapped, tmp_path / "m.pth")
  loaded = ckpt.load_state_dict(str(tmp_path / "m.pth"))
  assert sorted(loaded) == sorted(state)
  np.testing.assert_array_equal(loaded["cls_head.fc_cls.weight"], state["cls_head.fc_cls.weight"])


TINY_CONFIG = '''
from vjax.config import default_config

def get_config(arg=""):
  c = default_config()
  c.model = {model!r}
  pipeline = [dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=3, test_mode=True),
              dict(type="RawFrameDecode"), dict(type="Resize", scale=(-1, 32)),
              dict(type="CenterCrop", crop_size=32), dict(type="FormatShape", input_format="NCHW"),
              dict(type="Collect", keys=["imgs"], meta_keys=[])]
  ds = dict(type="RawframeDataset", ann_file="none.txt", data_prefix="none")
  c.data.val = dict(ds, pipeline=pipeline)
  c.data.test = dict(ds, pipeline=pipeline)
  return c
'''


def write_tiny_config(tmp_path) -> str:
  path = tmp_path / "tiny_tsn.py"
  path.write_text(TINY_CONFIG.format(model=golden.vjax_model_cfg(CASE)))
  return str(path)


def test_cli_writes_what_load_from_reads(tmp_path, capsys):
  config = write_tiny_config(tmp_path)
  out = load.convert_main([f"--config={config}", f"--checkpoint={NPZ}", f"--out={tmp_path / 'conv'}"])
  assert "--config.load_from=" in capsys.readouterr().out
  model, x, target = small_model()
  mesh = mesh_lib.make_mesh((("data", -1),), jax.devices()[:1])
  state, shardings = create_state(model, optax.sgd(0.1), mesh, x, seed=0)
  params, batch_stats = load_params(out, abstract_state(state, shardings))
  expected, _ = ckpt.convert_state_dict(golden.state_dict(CASE), target)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(params), expected["params"])
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(batch_stats),
               expected["batch_stats"])
  with pytest.raises(FileExistsError):
    load.convert_main([f"--config={config}", f"--checkpoint={NPZ}", f"--out={out}"])


def test_cli_no_strict(tmp_path, capsys):
  config = write_tiny_config(tmp_path)
  partial = tmp_path / "partial.npz"
  np.savez(partial, **{k: v for k, v in golden.state_dict(CASE).items()
                       if not k.startswith("cls_head")})
  with pytest.raises(ValueError, match="missing params/cls_head/fc_cls/kernel"):
    load.convert_main([f"--config={config}", f"--checkpoint={partial}", f"--out={tmp_path / 'a'}"])
  out = load.convert_main([f"--config={config}", f"--checkpoint={partial}", f"--out={tmp_path / 'b'}",
                   "--no-strict"])
  printed = capsys.readouterr().out
  assert "vjax variables left at their initial values: 2" in printed
  assert (tmp_path / "b" / "state").is_dir() and out == str(tmp_path / "b")


def test_command_runs_as_a_module():
  # The module holds the converter; its command delegates to vjax.convert.load, so neither
  # imports the other in a circle. A missing file is one clear line, not a traceback.
  from tests.conftest import ROOT  # pylint: disable=g-import-not-at-top
  cmd = [sys.executable, "-m", "vjax.convert.mmaction2_checkpoint"]
  help_ = subprocess.run(cmd + ["--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert help_.returncode == 0 and "--no-strict" in help_.stdout, help_.stderr[-2000:]
  missing = subprocess.run(cmd + ["--config=configs/tsn_k400.py:synthetic",
                                  "--checkpoint=/nonexistent/tsn.npz", "--out=/tmp/unused"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert missing.returncode == 1 and missing.stderr.strip().startswith("error:"), missing.stderr
  assert "/nonexistent/tsn.npz" in missing.stderr and "Traceback" not in missing.stderr
