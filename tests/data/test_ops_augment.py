"""ColorJitter, Flip label maps and Imgaug: formulas, PIL parity, clip-level consistency."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from vjax.data import PIPELINES
from vjax.data import ops_color, ops_imgaug


def _frames(n=3, h=20, w=24, seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def _clip_of_one_frame(n=4, seed=0):
  """A clip whose frames are all the same: any per-frame randomness would show."""
  return np.repeat(_frames(1, seed=seed), n, axis=0)


def _build(**cfg):
  return PIPELINES.build(cfg)


# ---------------------------------------------------------------------------------- ColorJitter

def _grey(x):
  return 0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _jitter_by_hand(img, b, c, s):
  """Brightness, contrast, saturation (in that order) written out for one float frame."""
  x = img.astype(np.float64) * b
  x = c * x + (1 - c) * _grey(x).mean()
  x = s * x + (1 - s) * _grey(x)[..., None]
  return np.clip(x, 0, 255)


def test_color_jitter_matches_the_formulas():
  imgs = _frames()
  out = ops_color.color_jitter(imgs, (1.2, 0.7, 1.4, 0.0), order=(0, 1, 2, 3))
  assert out.dtype == np.uint8 and out.shape == imgs.shape
  for frame, got in zip(imgs, out):  # Contrast uses each frame's own mean.
    want = _jitter_by_hand(frame, 1.2, 0.7, 1.4)
    assert np.abs(got - np.floor(want)).max() <= 1  # float32 vs float64, then truncation.
  # Neutral factors leave frames untouched. The first three commute (up to the final clip);
  # hue clips to uint8 on the way, so its place in the order matters.
  np.testing.assert_array_equal(ops_color.color_jitter(imgs, (1, 1, 1, 0), range(4)), imgs)
  factors = (1.4, 0.7, 1.4, 0.05)
  first = ops_color.color_jitter(imgs, factors, order=(3, 0, 1, 2))
  assert not np.array_equal(first, ops_color.color_jitter(imgs, factors, order=(0, 1, 2, 3)))


def test_color_jitter_hue_rotation():
  red = np.zeros((1, 2, 2, 3), np.uint8)
  red[..., 0] = 255
  # int(0.1 * 255) = 25 OpenCV hue units = 50 degrees.
  want = np.array(colorsys.hsv_to_rgb(50 / 360, 1, 1)) * 255
  out = ops_color.color_jitter(red, (1, 1, 1, 0.1), range(4))
  np.testing.assert_allclose(out[0, 0, 0], want, atol=2)
  back = ops_color.color_jitter(red, (1, 1, 1, -0.1), range(4))  # -25 units wraps to 155.
  np.testing.assert_allclose(back[0, 0, 0], np.array(colorsys.hsv_to_rgb(310 / 360, 1, 1)) * 255,
                             atol=2)


def test_color_jitter_op_draws_from_rng_once_per_clip():
  op = _build(type="ColorJitter")
  imgs = _clip_of_one_frame()
  out = op(dict(imgs=imgs.copy()), np.random.default_rng(5))["imgs"]
  assert (out == out[0]).all()  # Same factors for every frame.
  rng = np.random.default_rng(5)  # The op's draws: order, then b, c, s, h uniform in range.
  order = rng.permutation(4)
  factors = [rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5),
             rng.uniform(-0.1, 0.1)]
  np.testing.assert_array_equal(out, ops_color.color_jitter(imgs, factors, order))
  np.testing.assert_array_equal(out, op(dict(imgs=imgs.copy()), np.random.default_rng(5))["imgs"])
  others = [op(dict(imgs=imgs.copy()), np.random.default_rng(s))["imgs"] for s in range(3)]
  assert any(not np.array_equal(out, o) for o in others)


def test_color_jitter_ranges():
  op = _build(type="ColorJitter", brightness=(0.9, 1.0), contrast=0, saturation=0.2, hue=0.5)
  assert (op.brightness, op.contrast, op.saturation, op.hue) == (
      (0.9, 1.0), (1.0, 1.0), (0.8, 1.2), (-0.5, 0.5))
  for bad in (dict(brightness=1.5), dict(hue=0.6), dict(contrast=(1.2, 0.8)),
              dict(saturation=(-0.5, 1))):
    with pytest.raises(ValueError, match="ColorJitter"):
      _build(type="ColorJitter", **bad)
  with pytest.raises(ValueError, match="RGB"):
    _build(type="ColorJitter")(dict(imgs=_frames()[..., :2]), np.random.default_rng(0))


# ----------------------------------------------------------------------------------------- Flip

def test_flip_label_map_only_when_flipped():
  imgs = _frames()
  label_map = {3: 4, 4: 3}
  r = _build(type="Flip", flip_ratio=1, flip_label_map=label_map)(dict(imgs=imgs, label=4))
  assert r["label"] == 3 and r["flip"]
  np.testing.assert_array_equal(r["imgs"], imgs[:, :, ::-1])
  r = _build(type="Flip", flip_ratio=1, flip_label_map=label_map)(dict(imgs=imgs, label=7))
  assert r["label"] == 7
  r = _build(type="Flip", flip_ratio=0, flip_label_map=label_map)(dict(imgs=imgs, label=4))
  assert r["label"] == 4 and not r["flip"]


# ---------------------------------------------------------------------------- Imgaug: PIL parity

def _pil(fn, imgs):
  return np.stack([np.asarray(fn(Image.fromarray(f))) for f in imgs])


def _aug(spec, imgs, seed=0):
  return ops_imgaug.build_augmenter(spec)(np.random.default_rng(seed))(imgs)


_LOW_CONTRAST = (_frames(seed=1) // 4 + 90).astype(np.uint8)


@pytest.mark.parametrize("imgs", [_frames(), _LOW_CONTRAST], ids=["full", "narrow"])
def test_pillike_augmenters_match_pil_exactly(imgs):
  cases = [
      (dict(type="Equalize"), ImageOps.equalize),
      (dict(type="Autocontrast", cutoff=0), ImageOps.autocontrast),
      (dict(type="Autocontrast", cutoff=10), lambda im: ImageOps.autocontrast(im, cutoff=10)),
      (dict(type="Posterize", nb_bits=3), lambda im: ImageOps.posterize(im, 3)),
      (dict(type="Solarize", threshold=230.4), lambda im: ImageOps.solarize(im, 230)),
      (dict(type="Invert"), ImageOps.invert),
  ]
  for name, cls in (("Color", ImageEnhance.Color), ("Contrast", ImageEnhance.Contrast),
                    ("Brightness", ImageEnhance.Brightness),
                    ("Sharpness", ImageEnhance.Sharpness)):
    for f in (0.3, 1.72):
      cases.append((dict(type=f"Enhance{name}", factor=f),
                    lambda im, cls=cls, f=f: cls(im).enhance(f)))
  for spec, pil_fn in cases:
    np.testing.assert_array_equal(_aug(spec, imgs), _pil(pil_fn, imgs), err_msg=str(spec))


# ------------------------------------------------------------------------ Imgaug: other augmenters

def _dot(h, w, y, x):
  img = np.zeros((1, h, w, 3), np.uint8)
  img[0, y, x] = 255
  return img


def _where(imgs):
  return [tuple(p) for p in np.argwhere(imgs[0, ..., 0] == 255)]


def test_geometric_augmenters_move_pixels_like_imgaug():
  assert _where(_aug(dict(type="Rotate", rotate=90, order=0), _dot(9, 9, 0, 4))) == [(4, 8)]
  assert _where(_aug(dict(type="TranslateX", percent=0.25, order=0), _dot(8, 20, 3, 2))) == [(3, 7)]
  assert _where(_aug(dict(type="TranslateY", px=2, order=0), _dot(8, 20, 3, 2))) == [(5, 2)]
  # Shear x by 45 degrees: x' = x - (y - centre); the top row moves right by 4.
  assert _where(_aug(dict(type="ShearX", shear=45, order=0), _dot(9, 9, 0, 4))) == [(0, 8)]
  assert _where(_aug(dict(type="ShearY", shear=45, order=0), _dot(9, 9, 4, 0))) == [(0, 0)]
  scaled = _aug(dict(type="Affine", scale={"x": 2.0, "y": 1.0}, order=0), _dot(9, 9, 4, 3))
  assert _where(scaled) == [(4, 2)]
  # Filled corners use cval; 'edge' mode replicates the border instead.
  ones = np.full((1, 8, 8, 3), 200, np.uint8)
  assert _aug(dict(type="Rotate", rotate=45, cval=7), ones)[0, 0, 0, 0] == 7
  assert _aug(dict(type="Rotate", rotate=45, mode="edge"), ones)[0, 0, 0, 0] == 200


def test_cutout_sharpen_flips():
  imgs = np.zeros((2, 10, 20, 3), np.uint8)
  out = _aug(dict(type="Cutout", size=0.5, position=(0.5, 0.5)), imgs)
  # Squared: side = 0.5 * height = 5 pixels, centred at (10, 5), filled with 128.
  box = np.zeros_like(imgs)
  box[:, 2:7, 7:12] = 128
  np.testing.assert_array_equal(out, box)
  out = _aug(dict(type="Cutout", size=0.5, squared=False, position="left-top", cval=9), imgs)
  # Centred on the corner: half of 0.5 * 20 wide and half of 0.5 * 10 high remain.
  np.testing.assert_array_equal(np.argwhere(out[0, ..., 0] == 9)[[0, -1]], [[0, 0], [1, 4]])
  flat = np.full((1, 6, 6, 3), 100, np.uint8)  # Sharpening keeps flat areas (kernel sums to 1).
  np.testing.assert_array_equal(_aug(dict(type="Sharpen", alpha=1.0, lightness=1.0), flat), flat)
  src = _frames()
  np.testing.assert_array_equal(_aug(dict(type="Sharpen", alpha=0.0), src), src)
  np.testing.assert_array_equal(_aug(dict(type="Fliplr"), src), src[:, :, ::-1])
  np.testing.assert_array_equal(_aug(dict(type="Flipud"), src), src[:, ::-1])


def test_wrappers_pick_children():
  src = _frames()
  invert, flip = dict(type="Invert"), dict(type="Fliplr")
  np.testing.assert_array_equal(_aug(dict(type="Sequential", children=[invert, flip]), src),
                                255 - src[:, :, ::-1])
  np.testing.assert_array_equal(_aug(dict(type="Sometimes", p=0, then_list=[invert],
                                          else_list=[flip]), src), src[:, :, ::-1])
  outcomes = set()
  for seed in range(30):
    out = _aug(dict(type="OneOf", children=[invert, flip]), src, seed)
    outcomes.add("invert" if np.array_equal(out, 255 - src) else "flip")
    assert np.array_equal(out, 255 - src) or np.array_equal(out, src[:, :, ::-1])
  assert outcomes == {"invert", "flip"}
  both = _aug(dict(type="SomeOf", n=2, children=[invert, flip, dict(type="Identity")]), src, 3)
  assert not np.array_equal(both, src)
  # Choice picks one of its values; a pair is a range.
  angles = {ops_imgaug._number(ops_imgaug.Choice((-5, 5)), np.random.default_rng(s))
            for s in range(20)}
  assert angles == {-5.0, 5.0}
  assert all(2 <= ops_imgaug._integer((2, 3), np.random.default_rng(s)) <= 3 for s in range(20))


# ------------------------------------------------------------------------------- Imgaug: the op

def test_imgaug_default_is_randaugment_and_clip_consistent():
  op = _build(type="Imgaug", transforms="default")
  children = op.transforms[0]["children"]
  assert op.transforms[0]["type"] == "SomeOf" and op.transforms[0]["n"] == 2
  assert len(children) == 15
  assert children[4] == dict(type="Rotate", rotate=ops_imgaug.Choice((-27.0, 27.0)))
  assert children[5] == dict(type="Posterize", nb_bits=3)
  imgs = _clip_of_one_frame(seed=2)
  changed = 0
  for seed in range(8):
    r = op(dict(imgs=imgs.copy(), modality="RGB"), np.random.default_rng(seed))
    assert r["imgs"].shape == imgs.shape and r["imgs"].dtype == np.uint8
    assert (r["imgs"] == r["imgs"][0]).all()  # One draw for the whole clip.
    again = op(dict(imgs=imgs.copy(), modality="RGB"), np.random.default_rng(seed))["imgs"]
    np.testing.assert_array_equal(r["imgs"], again)
    changed += not np.array_equal(r["imgs"], imgs)
  assert changed >= 6


def test_imgaug_list_of_specs_and_errors():
  op = _build(type="Imgaug", transforms=[dict(type="Rotate", rotate=(-20, 20)),
                                         dict(type="Fliplr", p=0.5, name="flip")])
  r = op(dict(imgs=_frames(), modality="RGB"), np.random.default_rng(0))
  assert r["img_shape"] == (20, 24)
  with pytest.raises(ValueError, match=r"'Superpixels'.*supported: .*Rotate"):
    _build(type="Imgaug", transforms=[dict(type="Superpixels")])
  with pytest.raises(ValueError, match="supported"):
    _build(type="Imgaug", transforms=[dict(type="OneOf", children=[dict(type="Clouds")])])
  with pytest.raises(TypeError, match="Rotate"):
    _build(type="Imgaug", transforms=[dict(type="Rotate", degrees=3)])
  with pytest.raises(ValueError, match="default"):
    _build(type="Imgaug", transforms="randaugment")
  with pytest.raises(TypeError, match="uint8"):
    op(dict(imgs=_frames().astype(np.float32), modality="RGB"), np.random.default_rng(0))
  with pytest.raises(ValueError, match="RGB"):
    op(dict(imgs=_frames()[..., :2], modality="Flow"), np.random.default_rng(0))
