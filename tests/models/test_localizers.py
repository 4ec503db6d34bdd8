"""BMN, BSN's TEM and PEM, their training labels and losses against MMAction2 0.24.1.

The goldens (tests/golden/localizers, written by tests/reference/make_golden_localizers.py
in the reference venv) hold seeded state dicts as MMAction2 saves them, the networks' outputs
on seeded inputs, BMN's sampling masks, ``generate_labels`` of both localizers on padded
ground truth, and every loss on stored tensors with MMAction2's random draws replaced by
stored uniforms. The state dicts import through ``convert_state_dict`` strictly.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vjax.convert.mmaction2_checkpoint import convert_state_dict
from vjax.models import build_model
from vjax.models.localizers import bm_mask, check_sample_mask, interp1d_mask
from vjax.models.localizers.labels import bmn_labels, tem_labels
from vjax.models.localizers.losses import (binary_logistic_regression_loss, bmn_loss,
                                           pem_loss, tem_loss_terms)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "localizers"
META = json.loads((GOLDEN / "meta.json").read_text())
CASES = json.loads((GOLDEN / "cases.json").read_text())
A = dict(np.load(GOLDEN / "arrays.npz"))
KEY = jax.random.key(0)

# float32 on both sides; measured max |diff| / max(1, max |value|): BMN 7.7e-7, TEM 1.8e-7,
# PEM 6e-8. Labels differ by up to 4.5e-7 (MMAction2 computes them from float64 ground truth;
# vjax's float32 rounding of it is divided by a 2-snippet anchor length), losses by 8e-7
# relative.
RTOL = 1e-4
LOSS_RTOL = 1e-5


def relative_error(got, expected) -> float:
  got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
  assert got.shape == expected.shape, (got.shape, expected.shape)
  return float(np.abs(got - expected).max()) / max(1.0, float(np.abs(expected).max()))


def state(group: str) -> dict[str, np.ndarray]:
  prefix = f"{group}/state/"
  return {k[len(prefix):]: v for k, v in A.items() if k.startswith(prefix)}


def run_golden_model(group: str, x):
  """(outputs, model, variables): the vjax model with the golden's weights, one jit."""
  model = build_model(CASES[group]["model"], norm_groups=None)
  target = jax.eval_shape(model.init, KEY, jnp.asarray(x))
  variables, report = convert_state_dict(state(group), target)  # strict
  assert report.loaded == len(jax.tree.leaves(target))
  return jax.jit(model.apply)(variables, jnp.asarray(x)), model, variables


# ------------------------------------------------------------------ goldens
def test_goldens_come_from_the_reference_and_stay_small():
  assert META["mmaction2"] == "0.24.1"
  total = sum(f.stat().st_size for f in GOLDEN.rglob("*") if f.is_file())
  assert total < 1024 * 1024


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize("name", sorted(CASES["masks"].keys() - {"full"}))
def test_interp1d_mask_and_bm_mask_equal_mmaction2s(name):
  c = CASES["masks"][name]
  t = c["temporal_dim"]
  mask = interp1d_mask(t, c["boundary_ratio"], c["num_samples"], c["num_samples_per_bin"])
  assert mask.shape == (t, c["num_samples"], t, t) and mask.dtype == np.float32
  np.testing.assert_array_equal(mask.reshape(t, -1), A[f"masks/{name}/sample_mask"])
  np.testing.assert_array_equal(bm_mask(t), A[f"masks/{name}/bm_mask"])


def test_interp1d_mask_truncates_toward_zero_as_mmaction2():
  """With boundary_ratio 0.5, the 2-snippet proposal at 0 is sampled from -1.0 to 2.0; a point
  in (-1, 0) puts its whole weight on snippet 0 (math.modf truncates), -1 puts none."""
  mask = interp1d_mask(16, 0.5, 4, 2)
  # Samples -1, -4/7 (bin 0) and -1/7, 2/7 (bin 1) of the proposal (start 0, duration 1).
  np.testing.assert_allclose(mask[:, 0, 1, 0], np.eye(16)[0] * 0.5, atol=1e-7)
  np.testing.assert_allclose(mask[:2, 1, 1, 0], [0.5 + 0.5 * 5 / 7, 0.5 * 2 / 7], atol=1e-7)
  assert not mask.flags.writeable


def test_full_size_mask_checksums_equal_mmaction2s():
  c = CASES["masks"]["full"]
  t = c["temporal_dim"]
  mask = interp1d_mask(t, c["boundary_ratio"], c["num_samples"], c["num_samples_per_bin"])
  flat = mask.reshape(t, -1)
  assert list(flat.shape) == c["shape"]
  a = flat.astype(np.float64).ravel()
  ramp = np.arange(a.size, dtype=np.float64) % 1000 / 1000
  got = {"sum": a.sum(), "sum_sq": (a * a).sum(), "ramp": (a * ramp).sum()}
  for key, value in got.items():
    assert value == pytest.approx(c["checksums"][key], rel=1e-9), key
  assert np.count_nonzero(a) == c["checksums"]["nonzero"]
  assert bm_mask(t).sum() == c["bm_mask"]["sum"]


# ------------------------------------------------------------------ networks
@pytest.fixture(scope="module")
def bmn_run():
  x = np.moveaxis(A["bmn/input"], 1, -1)  # MMAction2's (N, C, T) -> (N, T, C)
  return run_golden_model("bmn", x)


def test_bmn_matches_mmaction2(bmn_run):
  (confidence, start, end), _, _ = bmn_run
  n, t = A["bmn/start"].shape
  assert confidence.shape == (n, t, t, 2) and confidence.dtype == jnp.float32
  expected = np.moveaxis(A["bmn/confidence_map"], 1, -1)  # (N, 2, D, T) -> (N, D, T, 2)
  for got, want in ((confidence, expected), (start, A["bmn/start"]), (end, A["bmn/end"])):
    assert relative_error(got, want) <= RTOL
  for spread in (expected[..., 0], expected[..., 1], A["bmn/start"], A["bmn/end"]):
    assert spread.std() > 0.1  # the sigmoids' outputs cover (0, 1), not just 0.5


def test_bmn_checkpoint_sample_mask_is_interp1d_mask(bmn_run):
  _, model, _ = bmn_run
  sd = state("bmn")
  check_sample_mask(sd, model)  # the golden's own mask: no error
  t = model.temporal_dim
  np.testing.assert_array_equal(
      sd["sample_mask"], interp1d_mask(t, 0.5, 4, 2).reshape(t, -1))
  # Same shapes, other boundary_ratio: the layer shapes agree, the mask does not.
  with pytest.raises(ValueError, match="boundary_ratio=0.25"):
    check_sample_mask(sd, model.clone(boundary_ratio=0.25))


@pytest.fixture(scope="module")
def tem_run():
  return run_golden_model("tem", np.moveaxis(A["tem/input"], 1, -1))


def test_tem_matches_mmaction2(tem_run):
  out, _, _ = tem_run
  expected = np.moveaxis(A["tem/output"], 1, -1)  # (N, 3, T) -> (N, T, 3)
  assert relative_error(out, expected) <= RTOL
  assert expected.std(axis=(0, 1)).min() > 0.1


def test_pem_matches_mmaction2():
  out, _, _ = run_golden_model("pem", A["pem/input"])
  b, p, _ = A["pem/input"].shape
  assert out.shape == (b * p, 1)
  assert relative_error(out, A["pem/output"]) <= RTOL
  assert A["pem/output"].std() > 0.1


def test_full_size_configs_output_shapes():
  """The shipped ActivityNet configs (bmn_400x100, bsn_tem, bsn_pem), shapes only."""
  bmn = build_model(dict(type="BMN", temporal_dim=100, boundary_ratio=0.5, num_samples=32,
                         num_samples_per_bin=3, feat_dim=400, soft_nms_alpha=0.4,
                         soft_nms_low_threshold=0.5, soft_nms_high_threshold=0.9,
                         post_process_top_k=100), norm_groups=None, dtype=jnp.bfloat16)
  x = jax.ShapeDtypeStruct((2, 100, 400), jnp.float32)
  variables = jax.eval_shape(bmn.init, KEY, x)
  out = jax.eval_shape(bmn.apply, variables, x)
  assert [o.shape for o in out] == [(2, 100, 100, 2), (2, 100), (2, 100)]
  assert all(o.dtype == jnp.float32 for o in out)
  assert variables["params"]["x_3d_p_0"]["kernel"].shape == (32, 1, 1, 256, 512)
  assert variables["params"]["x_1d_b_0"]["kernel"].shape == (3, 100, 256)  # groups=4

  tem = build_model(dict(type="TEM", temporal_dim=100, boundary_ratio=0.1, tem_feat_dim=400,
                         tem_hidden_dim=512, tem_match_threshold=0.5))
  v = jax.eval_shape(tem.init, KEY, x)
  assert jax.eval_shape(tem.apply, v, x).shape == (2, 100, 3)

  pem = build_model(dict(type="PEM", pem_feat_dim=32, pem_hidden_dim=256, pem_u_ratio_m=1,
                         pem_u_ratio_l=2, pem_high_temporal_iou_threshold=0.6,
                         pem_low_temporal_iou_threshold=0.2, soft_nms_alpha=0.75,
                         soft_nms_low_threshold=0.65, soft_nms_high_threshold=0.9,
                         post_process_top_k=100))
  f = jax.ShapeDtypeStruct((16, 500, 32), jnp.float32)
  v = jax.eval_shape(pem.init, KEY, f)
  assert jax.eval_shape(pem.apply, v, f).shape == (8000, 1)


def test_bmn_rejects_features_of_another_size(bmn_run):
  _, model, _ = bmn_run
  with pytest.raises(ValueError, match="temporal_dim=16"):
    jax.eval_shape(model.init, KEY, jnp.zeros((1, 12, 16)))


# ------------------------------------------------------------------ labels
@pytest.fixture(scope="module")
def labels():
  """vjax's labels for the golden ground truth, with its padding rows and with NaN there."""
  bbox, mask = A["labels/gt_bbox"], A["labels/gt_mask"]
  nan_padded = np.where(mask[..., None], bbox, np.nan)
  both = np.concatenate([bbox, nan_padded]).astype(np.float32)
  masks = np.concatenate([mask, mask])
  c = CASES["labels"]

  @jax.jit
  def run(bbox, mask):
    return (bmn_labels(bbox, mask, c["bmn"]["temporal_dim"], c["bmn"]["boundary_ratio"]),
            tem_labels(bbox, mask, c["tem"]["temporal_dim"], c["tem"]["boundary_ratio"]))

  return run(both, masks)


@pytest.mark.parametrize("group", ["bmn", "tem"])
def test_labels_equal_mmaction2s_generate_labels(labels, group):
  got = labels[0 if group == "bmn" else 1]
  n = len(CASES["labels"]["gt_counts"])
  assert A["labels/gt_mask"].sum(1).tolist() == CASES["labels"]["gt_counts"]
  for i, value in enumerate(got):
    expected = A[f"labels/{group}/{i}"]
    np.testing.assert_allclose(value[:n], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(value[n:], expected, rtol=0, atol=1e-6)  # NaN padding
    assert expected.max() > 0.9 and (expected == 0).any()  # overlaps of every kind


def test_bmn_gt_iou_map_is_laid_out_like_the_confidence_map(labels):
  """[duration - 1, start]: the first video's one segment is best matched by the proposal
  whose rounded start and length are the segment's."""
  iou = np.asarray(labels[0][0][0])
  start, end = A["labels/gt_bbox"][0, 0] * 16
  d, u = np.unravel_index(iou.argmax(), iou.shape)
  assert abs(u - start) <= 1 and abs(u + d + 1 - end) <= 1


# ------------------------------------------------------------------ losses
def close(got, expected, rtol=LOSS_RTOL):
  assert np.isfinite(float(got)), got
  assert float(got) == pytest.approx(expected, rel=rtol, abs=1e-7)


@pytest.mark.parametrize("name", sorted(CASES["blr"]))
def test_binary_logistic_regression_loss(name):
  case = CASES["blr"][name]
  kwargs = dict(case["kwargs"])
  if "ratio_range" in kwargs:
    kwargs["ratio_range"] = tuple(kwargs["ratio_range"])
  got = binary_logistic_regression_loss(A["blr/score"], A[f"blr/{name}/label"], **kwargs)
  close(got, case["loss"])


def bmn_case(name):
  prefix = f"bmn_loss/{name}/"
  gt = A[prefix + "gt_iou_map"]
  _, gt_start, gt_end = (A[f"labels/bmn/{i}"] for i in range(3))
  args = dict(pred_bm=np.moveaxis(A[prefix + "pred_bm"], 1, -1),  # -> (N, D, T, 2)
              pred_start=A[prefix + "pred_start"], pred_end=A[prefix + "pred_end"],
              gt_iou_map=gt, gt_start=gt_start, gt_end=gt_end, bm_mask=bm_mask(gt.shape[-1]))
  return args, (A[prefix + "u_medium"], A[prefix + "u_low"])


@pytest.mark.parametrize("name", sorted(CASES["bmn_loss"]))
def test_bmn_loss(name):
  args, uniforms = bmn_case(name)
  got = bmn_loss(**args, uniforms=uniforms, **CASES["bmn_loss"][name]["kwargs"])
  for value, expected in zip(got, CASES["bmn_loss"][name]["losses"]):
    close(value, expected)


def pad_rows(x, extra, rng):
  """``x`` with ``extra`` rows of random values in [0, 1) appended (padding videos)."""
  x = np.asarray(x)
  return np.concatenate([x, rng.random((extra,) + x.shape[1:]).astype(x.dtype)])


@pytest.mark.parametrize("name", ["labels/default", "many_high/default"])
def test_bmn_loss_ignores_zero_weight_videos(name):
  rng = np.random.default_rng(0)
  args, uniforms = bmn_case(name)
  padded = {k: (v if k == "bm_mask" else pad_rows(v, 2, rng)) for k, v in args.items()}
  padded["gt_iou_map"][-2:] = 0.95  # high-IoU entries would change every term if counted
  weights = np.array([1, 1, 1, 1, 0, 0], bool)
  got = bmn_loss(**padded, uniforms=tuple(pad_rows(u, 2, rng) for u in uniforms),
                 weights=weights)
  for value, expected in zip(got, CASES["bmn_loss"][name]["losses"]):
    close(value, expected)


def test_bmn_loss_draws_from_key():
  args, _ = bmn_case("labels/default")
  loss = jax.jit(lambda key: bmn_loss(**args, key=key))
  a, b = loss(jax.random.key(1)), loss(jax.random.key(1))
  c = loss(jax.random.key(2))
  assert all(np.isfinite(float(v)) for v in a)
  assert float(a[0]) == float(b[0])
  assert float(a[2]) != float(c[2]) and float(a[1]) == float(c[1])  # only pem_reg samples
  with pytest.raises(ValueError, match="key"):
    bmn_loss(**args)


def test_bmn_loss_with_nothing_to_regress_is_zero():
  """No entry above 0.7: MMAction2 divides 0 by 0; vjax gives 0."""
  args, uniforms = bmn_case("labels/default")
  args["gt_iou_map"] = np.minimum(args["gt_iou_map"], 0.5)
  assert float(bmn_loss(**args, uniforms=uniforms)[2]) == 0.0


@pytest.mark.parametrize("name", sorted(CASES["tem_loss"]))
def test_tem_loss_terms(name):
  case = CASES["tem_loss"][name]
  outputs = np.moveaxis(A[f"tem_loss/{name}/output"], 1, -1)
  labels = tuple(A[f"labels/tem/{i}"] for i in range(3))
  got = tem_loss_terms(outputs, labels, **case["kwargs"])
  assert sorted(got) == sorted(case["losses"])
  for key, expected in case["losses"].items():
    close(got[key], expected)
  # Two padding videos with weight 0 change nothing.
  rng = np.random.default_rng(1)
  got = tem_loss_terms(pad_rows(outputs, 2, rng), tuple(pad_rows(l, 2, rng) for l in labels),
                       weights=np.array([1, 1, 1, 1, 0, 0], np.float32), **case["kwargs"])
  for key, expected in case["losses"].items():
    close(got[key], expected)


PEM_ARGS = dict(pem_high_temporal_iou_threshold=0.6, pem_low_temporal_iou_threshold=0.2,
                pem_u_ratio_m=1, pem_u_ratio_l=2)


def test_pem_loss():
  mask = A["pem_loss/mask"]
  for draw, expected in enumerate(CASES["pem_loss"]["mixed"]["losses"]):
    uniforms = (A[f"pem_loss/mixed/{draw}/u_medium"], A[f"pem_loss/mixed/{draw}/u_low"])
    output = A["pem_loss/mixed/output"].reshape(-1, 1)  # (B * P, 1), as PEM returns it
    got = pem_loss(output, A["pem_loss/mixed/reference_temporal_iou"], mask,
                   uniforms=uniforms, **PEM_ARGS)
    assert sorted(got) == ["temporal_iou_loss"]
    close(got["temporal_iou_loss"], expected["temporal_iou_loss"])
  # The selection cancels out of MMAction2's value: it is the mean smooth-L1 loss.
  iou, out = A["pem_loss/mixed/reference_temporal_iou"][mask], A["pem_loss/mixed/output"][mask]
  diff = np.abs(out - iou)
  mean = np.where(diff < 1, 0.5 * diff ** 2, diff - 0.5).mean()
  close(mean, CASES["pem_loss"]["mixed"]["losses"][0]["temporal_iou_loss"])
  got = pem_loss(A["pem_loss/mixed/output"], A["pem_loss/mixed/reference_temporal_iou"], mask,
                 key=jax.random.key(3), **PEM_ARGS)
  close(got["temporal_iou_loss"], mean)


def test_pem_loss_without_high_iou_proposals_is_zero():
  """MMAction2 gives NaN (0 / 0); vjax 0. The padding (IoU 0.9) must not count as high."""
  assert np.isnan(CASES["pem_loss"]["no_high"]["losses"][0]["temporal_iou_loss"])
  uniforms = (A["pem_loss/no_high/0/u_medium"], A["pem_loss/no_high/0/u_low"])
  got = pem_loss(A["pem_loss/no_high/output"], A["pem_loss/no_high/reference_temporal_iou"],
                 A["pem_loss/mask"], uniforms=uniforms, **PEM_ARGS)
  assert float(got["temporal_iou_loss"]) == 0.0


def test_bmn_trains_end_to_end_on_device_labels(bmn_run):
  """Labels from padded ground truth, the loss and its gradient in one jitted step: finite,
  and every parameter receives a gradient."""
  _, model, variables = bmn_run
  x = jnp.asarray(np.moveaxis(A["bmn/input"], 1, -1))
  bbox = jnp.asarray(A["labels/gt_bbox"][:2], jnp.float32)
  mask = jnp.asarray(A["labels/gt_mask"][:2])

  @jax.jit
  def step(params, key):
    def loss_fn(params):
      pred = model.apply({"params": params}, x, train=True)
      gt = bmn_labels(bbox, mask, model.temporal_dim, model.boundary_ratio)
      return bmn_loss(*pred, *gt, bm_mask(model.temporal_dim), key=key,
                      weights=jnp.array([1., 1.]))[0]
    return jax.value_and_grad(loss_fn)(params)

  loss, grads = step(variables["params"], KEY)
  assert np.isfinite(float(loss))
  norms = [float(jnp.abs(g).max()) for g in jax.tree.leaves(grads)]
  assert all(np.isfinite(norms)) and min(norms) > 0
