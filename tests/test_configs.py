"""Every config loads, builds its model, and its pipelines feed that model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import ROOT
from vjax.config import check_overrides, load_config
from vjax.data.pipeline import Compose
from vjax.models import build_model

CONFIGS = ["slowfast_k400", "tsn_k400"]


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("arg", ["", "synthetic"])
def test_config_builds_model_with_right_output(name, arg):
  cfg = load_config(f"{ROOT}/configs/{name}.py" + (f":{arg}" if arg else ""))
  model = build_model(cfg.model)
  side = 32 if arg else 224
  t = 16 if arg else 32
  x = jnp.zeros((1, 1, t, side, side, 3)) if name == "slowfast_k400" else jnp.zeros(
      (1, 3, side, side, 3))
  shapes = jax.eval_shape(lambda: model.init({"params": jax.random.key(0)}, x))
  out = jax.eval_shape(lambda v: model.apply(v, x), shapes)
  assert out.shape[-1] == cfg.model.cls_head.num_classes == (8 if arg else 400)


def test_mmaction2_reference_values_in_full_configs():
  sf = load_config(f"{ROOT}/configs/slowfast_k400.py")
  assert sf.data.videos_per_device == 8 and sf.total_epochs == 256
  assert sf.lr_config.policy == "CosineAnnealing" and sf.lr_config.warmup_iters == 34
  assert sf.optimizer_config.grad_clip.max_norm == 40
  assert [p["type"] for p in sf.data.train.pipeline][:3] == ["SampleFrames", "RawFrameDecode",
                                                             "Resize"]
  assert sf.data.test.pipeline[0]["num_clips"] == 10
  tsn = load_config(f"{ROOT}/configs/tsn_k400.py")
  assert tsn.data.videos_per_device == 32 and tsn.lr_config.step == [40, 80]
  assert tsn.data.train.pipeline[0] == dict(type="SampleFrames", clip_len=1, frame_interval=1,
                                            num_clips=3)


@pytest.mark.parametrize("name", CONFIGS)
def test_synthetic_pipelines_produce_model_inputs(name, tmp_path):
  from vjax.data import sources
  cfg = load_config(f"{ROOT}/configs/{name}.py:synthetic")
  for split in ("train", "val", "test"):
    d = cfg.data[split].to_dict()
    pipeline = d.pop("pipeline")
    d.update(data_dir=str(tmp_path), builder_config=dict(preset="tiny"))
    source = sources.DATASETS.build(d)
    out = Compose(pipeline)(dict(source[0]), np.random.default_rng(0))
    imgs = np.asarray(out["imgs"])
    assert imgs.dtype == np.uint8
    if name == "slowfast_k400":
      # Test: 2 clips x ThreeCrop at the full short side (36), fully convolutional as in MMAction2.
      expected = (1, 16, 32, 32, 3) if split != "test" else (2 * 3, 16, 36, 36, 3)
      assert imgs.shape == expected
    else:
      segs = 3 if split != "test" else 5 * 10
      assert imgs.shape == (segs, 32, 32, 3)


def test_override_check_names_closest_keys():
  cfg = load_config(f"{ROOT}/configs/slowfast_k400.py:synthetic")
  check_overrides(cfg, ["--config.optimizer.lr=0.1", "--workdir=x"])
  with pytest.raises(ValueError, match="did you mean optimizer.lr"):
    check_overrides(cfg, ["--config.optimizer.lrr=0.1"])
  with pytest.raises(ValueError, match="total_epochs"):
    check_overrides(cfg, ["--config.total_epoch=3"])


def test_unknown_config_argument_is_an_error():
  with pytest.raises(ValueError, match="unknown config argument 'synth'"):
    load_config(f"{ROOT}/configs/slowfast_k400.py:synth")
