"""Sharding strategies on the 8-device CPU mesh: placement rules, multi-slice meshes, and
FSDP / FSDP + model-parallel training equal to replicated training at a fraction of the
per-device memory (XLA's own memory analysis of the compiled step)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

from tests.models import tiny
from vjax.models import build_model
from vjax.train import mesh as mesh_lib
from vjax.train import sharding
from vjax.train.state import create_state
from vjax.train.step import make_train_step

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
MP_RULES = (("mlp", "model"), ("heads", "model"), ("qkv", "model"), ("conv_out", "model"),
            ("embed", None), ("conv_in", None), ("norm", None), ("classes", None))


# ------------------------------------------------------------------ placement rules
def _spec(path, shape, strategy, mesh_axes, logical=None, dtype=np.float32, rules=MP_RULES):
  mesh = mesh_lib.make_mesh(mesh_axes)
  return sharding.param_spec(path, shape, dtype, logical, strategy, mesh, rules)


FSDP4 = (("data", 2), ("fsdp", 4), ("model", 1))
MP2 = (("data", 2), ("fsdp", 2), ("model", 2))


def test_fsdp_shards_the_largest_divisible_dimension():
  # (3, 3, 3, 64, 256): 256 is the largest dimension and divisible by 4.
  assert _spec("b/conv/kernel", (3, 3, 3, 64, 256), ((".*", "fsdp"),), FSDP4) == \
      P(None, None, None, None, "fsdp")
  # 250 is not divisible by 4, so the next largest (64) is taken.
  assert _spec("b/conv/kernel", (3, 3, 3, 64, 250), ((".*", "fsdp"),), FSDP4) == \
      P(None, None, None, "fsdp")
  # Nothing divisible: replicated.
  assert _spec("b/bias", (7,), ((".*", "fsdp"),), FSDP4) == P()
  # Below the size floor (64*256*4 bytes = 64 KiB < 1 MiB): replicated.
  assert _spec("b/w", (64, 256), ((".*", "fsdp(min_size_mb=1)"),), FSDP4) == P()
  assert _spec("b/w", (512, 1024), ((".*", "fsdp(min_size_mb=1)"),), FSDP4) == P(None, "fsdp")
  # Over several axes at once (ZeRO-3 over data and fsdp: 8 shards).
  assert _spec("b/w", (12, 16), ((".*", "fsdp(axis=('data', 'fsdp'))"),), FSDP4) == \
      P(None, ("data", "fsdp"))


def test_logical_then_fsdp_compose_and_first_matching_rule_wins():
  strategy = ((r".*pos_embed", "replicate"), (r".*", "logical+fsdp"))
  # in_proj kernel (embed, qkv): qkv -> model by the rule, then fsdp takes the other dim.
  assert _spec("l/attn/in_proj/kernel", (32, 96), strategy, MP2, ("embed", "qkv")) == \
      P("fsdp", "model")
  # A logical dimension the model axis does not divide stays free for fsdp.
  assert _spec("l/ffn/kernel", (32, 5), strategy, MP2, ("embed", "mlp")) == P("fsdp")
  assert _spec("backbone/pos_embed", (1, 5, 32), strategy, MP2, (None, None, "embed")) == P()
  # No rule matches (fullmatch): replicated.
  assert _spec("other/kernel", (32, 96), ((r"backbone/.*", "fsdp"),), MP2) == P()


@pytest.mark.parametrize("text, message", [
    ("shard", "not one of"), ("fsdp(4)", "by name"), ("fsdp(size=2)", "takes"),
    ("replicate+fsdp", "cannot be chained")])
def test_bad_tactics_name_the_problem(text, message):
  with pytest.raises(ValueError, match=message):
    sharding.parse_tactics(text)


def test_unknown_axis_is_an_error():
  with pytest.raises(ValueError, match="not a mesh axis"):
    _spec("w", (8, 8), ((".*", "fsdp(axis='tensor')"),), FSDP4)


def test_multislice_mesh_puts_the_slice_factor_outermost():
  # Two "slices" of 4 devices; data spans both slices (dcn 2) and 2 devices within each.
  mesh = mesh_lib.make_mesh((("data", -1), ("model", 2)), dcn=(("data", 2),),
                            slice_of=lambda d: d.id // 4)
  assert dict(mesh.shape) == {"data": 4, "model": 2}
  slice_ids = np.vectorize(lambda d: d.id // 4)(mesh.devices)
  # data rows 0-1 lie in slice 0, rows 2-3 in slice 1; each model pair within one slice.
  np.testing.assert_array_equal(slice_ids, [[0, 0], [0, 0], [1, 1], [1, 1]])
  with pytest.raises(ValueError, match="spans 4 slices"):
    mesh_lib.make_mesh((("data", -1),), dcn=(("data", 4),), slice_of=lambda d: d.id // 4)
  with pytest.raises(ValueError, match="not mesh axes"):
    mesh_lib.make_mesh((("data", -1),), dcn=(("fsdp", 2),), slice_of=lambda d: d.id // 4)


# ------------------------------------------------------------------ training equivalence
MESHES = {
    "replicated": ((("data", 8), ("fsdp", 1), ("model", 1)), ((".*", "logical"),)),
    "fsdp": ((("data", 2), ("fsdp", 4), ("model", 1)), ((".*", "logical+fsdp"),)),
    "fsdp+model": ((("data", 2), ("fsdp", 2), ("model", 2)), ((".*", "logical+fsdp"),)),
}
MODELS = {"slowfast": (tiny.slowfast(dropout_ratio=0.0), (1, 8, 16, 16, 3)),
          "timesformer": (tiny.timesformer(), (1, 4, 16, 16, 3))}


def _train(model_name, mesh_name, steps=2):
  cfg, shape = MODELS[model_name]
  axes, strategy = MESHES[mesh_name]
  mesh = mesh_lib.make_mesh(axes)
  model = build_model(cfg)
  tx = optax.chain(optax.clip_by_global_norm(40.0), optax.sgd(0.05, momentum=0.9))
  state, sh = create_state(model, tx, mesh, jnp.zeros((1,) + shape), 0, MP_RULES, strategy)
  rng = np.random.default_rng(0)
  batch = {"imgs": rng.integers(0, 256, (8,) + shape, dtype=np.uint8),
           "label": (np.arange(8) % 5).astype(np.int32)}
  bs = mesh_lib.batch_sharding(mesh)
  fn = sharding.with_rules(make_train_step(tiny.task(cfg, NORM), model, tx, lambda s: 0.05),
                           mesh, MP_RULES)
  step = jax.jit(fn, in_shardings=(sh, bs), out_shardings=(sh, mesh_lib.replicated(mesh)))
  gb = {k: jax.device_put(v, bs) for k, v in batch.items()}
  with mesh:
    lowered = step.lower(state, gb)
    compiled = lowered.compile()
    expected_args = sharding.bytes_per_device(state, sh) + sharding.bytes_per_device(
        gb, {k: bs for k in gb})
    state_bytes = sharding.bytes_per_device(state, sh)
    losses = []
    for _ in range(steps):
      state, metrics = compiled(state, gb)
      losses.append(float(metrics["loss"]))
  return dict(losses=np.array(losses), params=jax.device_get(state.params), shardings=sh,
              args=compiled.memory_analysis().argument_size_in_bytes,
              expected_args=expected_args, state_bytes=state_bytes,
              hlo=lowered.as_text(), unconstrained_hlo=_lower_without_rules(
                  cfg, model, tx, mesh, sh, bs, state, gb))


def _lower_without_rules(cfg, model, tx, mesh, sh, bs, state, gb):
  step = jax.jit(make_train_step(tiny.task(cfg, NORM), model, tx, lambda s: 0.05),
                 in_shardings=(sh, bs), out_shardings=(sh, mesh_lib.replicated(mesh)))
  with mesh:
    return step.lower(state, gb).as_text()


@pytest.fixture(scope="module")
def runs():
  return {(m, s): _train(m, s) for m in MODELS for s in MESHES}


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("mesh_name", ["fsdp", "fsdp+model"])
def test_sharded_training_equals_replicated(runs, model_name, mesh_name):
  ref, got = runs[(model_name, "replicated")], runs[(model_name, mesh_name)]
  assert ref["losses"][-1] < ref["losses"][0]  # the runs really train
  np.testing.assert_allclose(got["losses"], ref["losses"], atol=1e-5, rtol=0)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5),
               got["params"], ref["params"])


@pytest.mark.parametrize("model_name", list(MODELS))
def test_compiled_memory_shrinks_by_the_sharded_fraction(runs, model_name):
  ref, fsdp, mp = (runs[(model_name, s)] for s in ("replicated", "fsdp", "fsdp+model"))
  for r in (ref, fsdp, mp):  # XLA's per-device argument bytes: exactly the local shards
    assert r["args"] == r["expected_args"]
  # FSDP over 4: every array with a dimension divisible by 4 shrinks 4x; the few that have
  # none (3-channel stem bias, 5-class head bias, ...) are under 2% of the bytes.
  assert 3.9 < ref["state_bytes"] / fsdp["state_bytes"] <= 4.0
  # fsdp 2 x model 2: the same 4 shards where both apply, so at least 2x and at most 4x.
  assert 2.0 <= ref["state_bytes"] / mp["state_bytes"] <= 4.0
  print(model_name, {k: r["state_bytes"] for k, r in zip(("rep", "fsdp", "mp"), (ref, fsdp, mp))})


def test_optimizer_state_is_sharded_like_its_parameters(runs):
  sh = runs[("timesformer", "fsdp+model")]["shardings"]
  momentum = sh.opt_state[1][0].trace  # chain(clip, sgd(momentum)) -> sgd's trace
  same = jax.tree.map(lambda a, b: a.spec == b.spec, momentum, sh.params)
  assert all(jax.tree.leaves(same))
  kernel = sh.params["backbone"]["transformer_layers"]["layers_0"]["attentions_0"]["attn"][
      "in_proj"]["kernel"]
  assert kernel.spec == P("fsdp", "model")


def test_tensor_parallel_attention_constrains_heads_and_mlp(runs):
  # TimeSformer's q/k/v (heads over model) and FFN hidden (mlp over model) become sharding
  # annotations of the traced step only while the trainer's rules are active; per layer:
  # 2 attentions x 3 (q, k, v) + 1 FFN hidden = 7, over 2 layers, in the forward pass.
  run = runs[("timesformer", "fsdp+model")]
  count = run["hlo"].count("sharding_constraint") - run["unconstrained_hlo"].count("sharding_constraint")
  assert count >= 14, count
  # SlowFast has no such layers: the rules add nothing.
  sf = runs[("slowfast", "fsdp+model")]
  assert sf["hlo"].count("sharding_constraint") == sf["unconstrained_hlo"].count("sharding_constraint")
