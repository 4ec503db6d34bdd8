"""``Imgaug``: MMAction2's imgaug-based augmentation, reimplemented with numpy and OpenCV.

MMAction2 builds imgaug augmenters from ``dict(type=<imgaug name>, ...)`` specs
and its default is RandAugment. imgaug is unmaintained (it breaks on current
numpy), so vjax reads the same specs and implements the augmenters itself.

Each augmenter is built into a ``draw(rng) -> transform`` function: ``draw``
samples every random parameter once, and the returned ``transform`` applies
exactly that augmentation to all frames of the clip (what imgaug's
``to_deterministic()`` gives MMAction2). Frames are uint8, (N, H, W, C).

Parameters follow imgaug: a number is used as is; a pair ``(a, b)`` is a uniform
range (inclusive for integer parameters); a ``list`` or ``Choice`` is a set to
pick from. vjax configs turn lists into tuples, so write ``Choice(...)`` for a
two-value choice there (longer tuples are read as choices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Callable

import cv2
import numpy as np

from vjax.data.ops_augment import _check_no_boxes
from vjax.data.ops_base import PIPELINES, as_rng, get_imgs

Transform = Callable[[np.ndarray], np.ndarray]
Draw = Callable[[np.random.Generator], Transform]


class Choice(tuple):
  """A parameter drawn uniformly from these values (imgaug's meaning of a list)."""

  def __repr__(self) -> str:
    return f"Choice({tuple(self)!r})"


# ------------------------------------------------------------------------- parameter sampling

def _is_choice(value) -> bool:
  return isinstance(value, (list, Choice)) or (isinstance(value, tuple) and len(value) != 2)


def _number(value, rng: np.random.Generator) -> float:
  """imgaug's continuous parameter: a number, a uniform ``(lo, hi)`` range, or a choice."""
  if _is_choice(value):
    return float(value[int(rng.integers(len(value)))])
  if isinstance(value, tuple):
    return float(rng.uniform(*value))
  if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
    return float(value)
  raise TypeError(f"Imgaug: expected a number, a (lo, hi) range or a choice, got {value!r}")


def _integer(value, rng: np.random.Generator) -> int:
  """imgaug's discrete parameter: an int, an inclusive ``(lo, hi)`` range, or a choice."""
  if _is_choice(value):
    return int(value[int(rng.integers(len(value)))])
  if isinstance(value, tuple):
    return int(rng.integers(value[0], value[1] + 1))
  if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
    return int(value)
  raise TypeError(f"Imgaug: expected an int, an inclusive (lo, hi) range or a choice, "
                  f"got {value!r}")


def _happens(p, rng: np.random.Generator) -> bool:
  """imgaug's probability parameter: a bool or a probability."""
  return bool(rng.random() < float(p))


def _axes(value, rng, default: float, both: bool) -> tuple[float, float]:
  """Affine's per-axis parameters: a dict ``{'x': ..., 'y': ...}`` samples each axis;
  anything else is drawn once and used for both axes (``both``) or for x only."""
  if isinstance(value, Mapping):
    return tuple(_number(value[a], rng) if value.get(a) is not None else default
                 for a in ("x", "y"))
  v = _number(value, rng)
  return (v, v) if both else (v, default)


def _identity(imgs: np.ndarray) -> np.ndarray:
  return imgs


def _chain(transforms: Sequence[Transform]) -> Transform:
  def run(imgs):
    for t in transforms:
      imgs = t(imgs)
    return imgs
  return run


# ---------------------------------------------------------------------------- pixel functions

def _apply_lut(imgs: np.ndarray, lut: np.ndarray) -> np.ndarray:
  """uint8 table ``lut``, (256,) or per channel (C, 256), applied to every frame."""
  n, h, w, c = imgs.shape
  table = lut if lut.ndim == 1 else np.ascontiguousarray(lut.T.reshape(256, 1, c))
  out = cv2.LUT(np.ascontiguousarray(imgs).reshape(n * h, w, c), table)  # cv2 wants 2-D images.
  return out.reshape(imgs.shape)


def _per_frame_luts(imgs: np.ndarray, make_lut) -> np.ndarray:
  """Applies, to each frame, the (C, 256) table ``make_lut`` builds from its channel histograms."""
  c = imgs.shape[-1]
  out = np.empty_like(imgs)
  for i, frame in enumerate(imgs):
    hist = np.stack([cv2.calcHist([frame], [ch], None, [256], [0, 256]).reshape(256)
                     for ch in range(c)]).astype(np.int64)
    out[i] = _apply_lut(frame[None], make_lut(hist))[0]
  return out


def equalize_lut(hist: np.ndarray) -> np.ndarray:
  """PIL's ``ImageOps.equalize`` table for each histogram row (identity when flat)."""
  hist = hist.astype(np.int64)
  last = 255 - np.argmax(hist[..., ::-1] > 0, axis=-1)
  step = (hist.sum(-1) - np.take_along_axis(hist, last[..., None], -1)[..., 0]) // 255
  below = np.cumsum(hist, -1) - hist
  safe = np.maximum(step, 1)[..., None]
  lut = np.minimum((step[..., None] // 2 + below) // safe, 255)
  return np.where(step[..., None] > 0, lut, np.arange(256)).astype(np.uint8)


def autocontrast_lut(hist: np.ndarray, cutoff) -> np.ndarray:
  """PIL's ``ImageOps.autocontrast`` table: drop ``cutoff`` percent of the pixels at
  each end, then stretch what is left to 0..255 (identity if nothing is left to stretch)."""
  hist = hist.astype(np.int64)
  cut = hist.sum(-1, keepdims=True) * np.asarray(cutoff)[..., None] // 100
  low = np.clip(np.cumsum(hist, -1) - cut, 0, hist)
  both = np.clip(np.cumsum(low[..., ::-1], -1)[..., ::-1] - cut, 0, low)
  nonzero = both > 0
  lo = np.argmax(nonzero, -1)[..., None]
  hi = 255 - np.argmax(nonzero[..., ::-1], -1)[..., None]
  scale = 255.0 / np.maximum(hi - lo, 1)
  lut = np.clip(np.trunc(np.arange(256) * scale - lo * scale), 0, 255)
  return np.where(hi > lo, lut, np.arange(256)).astype(np.uint8)


def pil_grey(imgs: np.ndarray) -> np.ndarray:
  """PIL's ``convert('L')``: fixed-point ITU-R 601 luma, rounded."""
  rgb = imgs.astype(np.int32)
  return (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16


def pil_blend(degenerate, imgs: np.ndarray, factor: float) -> np.ndarray:
  """PIL's ``ImageEnhance``: extrapolate from ``degenerate`` towards ``imgs`` by ``factor``."""
  degenerate = np.asarray(degenerate, np.float32)
  out = imgs.astype(np.float32)  # In place from here: these run on every training clip.
  out -= degenerate
  out *= np.float32(factor)
  out += degenerate
  return np.clip(out, 0, 255, out=out).astype(np.uint8)


_SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13


def pil_smooth(imgs: np.ndarray) -> np.ndarray:
  """PIL's ``ImageFilter.SMOOTH``; the one-pixel border keeps its input values, as in PIL."""
  out = imgs.copy()
  for i, frame in enumerate(imgs):
    smooth = cv2.filter2D(frame.astype(np.float32), -1, _SMOOTH)
    inner = np.clip(smooth[1:-1, 1:-1] + 0.5, 0, 255).astype(np.uint8)
    out[i, 1:-1, 1:-1] = inner.reshape(out[i, 1:-1, 1:-1].shape)
  return out


def affine_matrix(hw, scale=(1.0, 1.0), translate=(0.0, 0.0), rotate=0.0,
                  shear=(0.0, 0.0)) -> np.ndarray:
  """2x3 forward matrix about the image centre: rotate, scale, shear, then translate (pixels).

  Positive ``rotate`` turns the image clockwise; ``shear`` angles are in
  degrees (imgaug's signs; imgaug takes tanh of the angle, vjax its tangent).
  """
  h, w = hw
  centre = np.array([w / 2 - 0.5, h / 2 - 0.5])
  rad = np.deg2rad(rotate)
  rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
  shx, shy = np.tan(np.deg2rad(shear))
  linear = np.array([[1, -shx], [shy, 1]]) @ np.diag(scale) @ rot
  offset = centre + np.asarray(translate, np.float64) - linear @ centre
  return np.hstack([linear, offset[:, None]]).astype(np.float32)


_ORDERS = {0: cv2.INTER_NEAREST, 1: cv2.INTER_LINEAR, 3: cv2.INTER_CUBIC}
_MODES = {"constant": cv2.BORDER_CONSTANT, "edge": cv2.BORDER_REPLICATE,
          "symmetric": cv2.BORDER_REFLECT, "reflect": cv2.BORDER_REFLECT_101,
          "wrap": cv2.BORDER_WRAP}


def _per_frame(imgs: np.ndarray, fn) -> np.ndarray:
  """``fn`` on each (H, W, C) frame; OpenCV drops a channel axis of size 1, restored here."""
  out = np.empty_like(imgs)
  for i, frame in enumerate(imgs):
    out[i] = fn(np.ascontiguousarray(frame)).reshape(out.shape[1:])
  return out


# --------------------------------------------------------------------------------- augmenters

def _affine(scale=1.0, translate_percent=None, translate_px=None, rotate=0.0, shear=0.0,
            order=1, cval=0, mode="constant", fit_output=False, backend="auto") -> Draw:
  """imgaug's ``Affine`` (and the base of Rotate/Shear/Translate), warped with OpenCV."""
  del backend  # OpenCV always.
  if fit_output:
    raise NotImplementedError("Imgaug: Affine(fit_output=True) is not supported")
  if order not in _ORDERS or mode not in _MODES:
    raise ValueError(f"Imgaug: Affine order must be one of {sorted(_ORDERS)} and mode one of "
                     f"{sorted(_MODES)}; got order={order!r}, mode={mode!r}")
  if translate_percent is not None and translate_px is not None:
    raise ValueError("Imgaug: Affine takes translate_percent or translate_px, not both")
  relative = translate_px is None
  translate = translate_px if translate_px is not None else (translate_percent or 0.0)

  def draw(rng):
    scales = _axes(scale, rng, 1.0, both=True)
    shift = _axes(translate, rng, 0.0, both=True)
    angle = _number(rotate, rng)
    shears = _axes(shear, rng, 0.0, both=False)
    fill = (_number(cval, rng),) * 4

    def apply(imgs):
      h, w = imgs.shape[1:3]
      pixels = (shift[0] * w, shift[1] * h) if relative else shift
      m = affine_matrix((h, w), scales, pixels, angle, shears)
      if order == 0:
        # OpenCV's nearest-neighbour warp rounds exact half-pixel ties either way depending
        # on the SIMD path it takes on a CPU; the source pixel of each output pixel is
        # rounded here instead (half to even, as numpy), then fetched exactly.
        inv = cv2.invertAffineTransform(m).astype(np.float64)
        ys, xs = np.mgrid[0:h, 0:w]
        sx = np.rint(inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]).astype(np.float32)
        sy = np.rint(inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]).astype(np.float32)
        return _per_frame(imgs, lambda f: cv2.remap(
            f, sx, sy, cv2.INTER_NEAREST, borderMode=_MODES[mode], borderValue=fill))
      return _per_frame(imgs, lambda f: cv2.warpAffine(
          f, m, (w, h), flags=_ORDERS[order], borderMode=_MODES[mode], borderValue=fill))
    return apply
  return draw


def _rotate(rotate=(-30, 30), **kwargs) -> Draw:
  return _affine(rotate=rotate, **kwargs)


def _shear_x(shear=(-30, 30), **kwargs) -> Draw:
  return _affine(shear={"x": shear}, **kwargs)


def _shear_y(shear=(-30, 30), **kwargs) -> Draw:
  return _affine(shear={"y": shear}, **kwargs)


def _translate(axis: str):
  def build(percent=None, px=None, **kwargs) -> Draw:
    if percent is None and px is None:
      percent = (-0.25, 0.25)
    if px is not None:
      return _affine(translate_px={axis: px}, **kwargs)
    return _affine(translate_percent={axis: percent}, **kwargs)
  return build


def _fixed(fn: Transform) -> Callable[[], Draw]:
  """An augmenter without parameters."""
  return lambda: (lambda rng: fn)


def _flip(axis: int):
  def build(p=1) -> Draw:
    return lambda rng: (lambda imgs: np.flip(imgs, axis)) if _happens(p, rng) else _identity
  return build


def _invert(p=1, per_channel=False, min_value=None, max_value=None, threshold=None,
            invert_above_threshold=0.5) -> Draw:
  """imgaug's ``Invert``: ``v -> max - |v - min|`` with probability ``p``, optionally only
  at or above (or, by chance ``1 - invert_above_threshold``, below) a threshold."""
  lo = 0 if min_value is None else int(min_value)
  hi = 255 if max_value is None else int(max_value)
  values = np.arange(256)
  inverted = np.clip(hi - np.abs(values - lo), lo, hi)

  def table(rng) -> np.ndarray:
    if not _happens(p, rng):
      return values
    if threshold is None:
      return inverted
    t = int(_number(threshold, rng))
    above = _happens(invert_above_threshold, rng)
    return np.where((values >= t) == above, inverted, values)

  def draw(rng):
    if _happens(per_channel, rng):
      lut = np.stack([table(rng) for _ in range(3)]).astype(np.uint8)
    else:
      lut = table(rng).astype(np.uint8)
    return lambda imgs: _apply_lut(imgs, lut)
  return draw


def _solarize(p=1, per_channel=False, min_value=None, max_value=None, threshold=(64, 192),
              invert_above_threshold=True) -> Draw:
  return _invert(p, per_channel, min_value, max_value, threshold, invert_above_threshold)


def _posterize(nb_bits=(1, 8)) -> Draw:
  def draw(rng):
    bits = _integer(nb_bits, rng)
    if not 1 <= bits <= 8:
      raise ValueError(f"Imgaug: Posterize nb_bits must be in [1, 8], got {bits}")
    mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
    return lambda imgs: imgs & mask
  return draw


def _autocontrast(cutoff=(0, 20), per_channel=False) -> Draw:
  def draw(rng):
    channels = 3 if _happens(per_channel, rng) else 1
    cut = np.resize([_integer(cutoff, rng) for _ in range(channels)], 3)
    return lambda imgs: _per_frame_luts(imgs, lambda hist: autocontrast_lut(hist, cut))
  return draw


def _enhance(degenerate: Callable[[np.ndarray], np.ndarray], default_factor):
  def build(factor=default_factor) -> Draw:
    def draw(rng):
      f = _number(factor, rng)
      return lambda imgs: pil_blend(degenerate(imgs), imgs, f)
    return draw
  return build


def _contrast_degenerate(imgs: np.ndarray) -> np.ndarray:
  means = np.floor(pil_grey(imgs).mean(axis=(1, 2)) + 0.5)
  return means[:, None, None, None]


def _sharpen(alpha=(0.0, 0.2), lightness=(0.8, 1.2)) -> Draw:
  def draw(rng):
    a, light = _number(alpha, rng), _number(lightness, rng)
    kernel = np.full((3, 3), -a, np.float32)
    kernel[1, 1] = (1 - a) + a * (8 + light)
    return lambda imgs: _per_frame(imgs, lambda f: cv2.filter2D(f, -1, kernel))
  return draw


_NAMED_POSITIONS = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}


def _position(position, rng) -> tuple[float, float]:
  """Cutout centre relative to the frame, (x, y) in [0, 1]."""
  if position == "uniform":
    return float(rng.uniform()), float(rng.uniform())
  if position == "normal":
    return tuple(float(np.clip(rng.normal(0.5, 0.35 / 2), 0, 1)) for _ in range(2))
  if isinstance(position, str):
    names = (position, position) if position == "center" else tuple(position.split("-"))
    if len(names) != 2 or any(n not in _NAMED_POSITIONS for n in names):
      raise ValueError(f"Imgaug: unknown Cutout position {position!r}")
    return _NAMED_POSITIONS[names[0]], _NAMED_POSITIONS[names[1]]
  return _number(position[0], rng), _number(position[1], rng)


def _cutout(nb_iterations=1, position="uniform", size=0.2, squared=True, fill_mode="constant",
            cval=128, fill_per_channel=False) -> Draw:
  if fill_mode != "constant":
    raise NotImplementedError(f"Imgaug: Cutout fill_mode={fill_mode!r}; only 'constant'")

  def draw(rng):
    areas = []
    for _ in range(_integer(nb_iterations, rng)):
      x, y = _position(position, rng)
      size_h, size_w = _number(size, rng), _number(size, rng)
      square = _happens(squared, rng)
      channels = 3 if _happens(fill_per_channel, rng) else 1
      fill = np.resize([_number(cval, rng) for _ in range(channels)], 3)
      areas.append((x, y, size_h, size_w, square, fill))

    def apply(imgs):
      h, w = imgs.shape[1:3]
      out = imgs.copy()
      for x, y, size_h, size_w, square, fill in areas:
        half_h = size_h * h / 2
        half_w = half_h if square else size_w * w / 2
        x1, x2 = (int(np.clip(v, 0, w)) for v in (x * w - half_w, x * w + half_w))
        y1, y2 = (int(np.clip(v, 0, h)) for v in (y * h - half_h, y * h + half_h))
        out[:, y1:y2, x1:x2] = fill
      return out
    return apply
  return draw


def _children(specs) -> list[Draw]:
  if specs is None:
    return []
  if isinstance(specs, Mapping):
    specs = [specs]
  return [build_augmenter(s) for s in specs]


def _apply_all(draws: Sequence[Draw], rng) -> Transform:
  return _chain([d(rng) for d in draws])


def _sequential(children=None, random_order=False) -> Draw:
  draws = _children(children)

  def draw(rng):
    chosen = [draws[i] for i in rng.permutation(len(draws))] if random_order else draws
    return _apply_all(chosen, rng)
  return draw


def _some_of(n=None, children=None, random_order=False) -> Draw:
  draws = _children(children)

  def count(rng) -> int:
    if n is None:
      return len(draws)
    if isinstance(n, tuple) and len(n) == 2 and n[1] is None:
      return int(rng.integers(n[0], len(draws) + 1))
    return _integer(n, rng)

  def draw(rng):
    k = min(max(count(rng), 0), len(draws))
    picked = rng.choice(len(draws), k, replace=False)
    picked = picked if random_order else np.sort(picked)
    return _apply_all([draws[i] for i in picked], rng)
  return draw


def _one_of(children) -> Draw:
  return _some_of(1, children)


def _sometimes(p=0.5, then_list=None, else_list=None) -> Draw:
  then_draws, else_draws = _children(then_list), _children(else_list)
  return lambda rng: _apply_all(then_draws if _happens(p, rng) else else_draws, rng)


_AUGMENTERS = {
    # Wrappers (imgaug.augmenters.meta).
    "Sequential": _sequential, "SomeOf": _some_of, "OneOf": _one_of, "Sometimes": _sometimes,
    "Identity": _fixed(_identity), "Noop": _fixed(_identity),
    # Geometry (imgaug.augmenters.geometric / flip).
    "Affine": _affine, "Rotate": _rotate, "ShearX": _shear_x, "ShearY": _shear_y,
    "TranslateX": _translate("x"), "TranslateY": _translate("y"),
    "Fliplr": _flip(2), "Flipud": _flip(1),
    # Intensity (imgaug.augmenters.arithmetic / color / convolutional).
    "Invert": _invert, "Solarize": _solarize, "Posterize": _posterize, "Sharpen": _sharpen,
    "Cutout": _cutout,
    # PIL-like (imgaug.augmenters.pillike).
    "Equalize": _fixed(lambda imgs: _per_frame_luts(imgs, equalize_lut)),
    "Autocontrast": _autocontrast, "AutoContrast": _autocontrast,
    "EnhanceColor": _enhance(lambda imgs: pil_grey(imgs)[..., None], (0.0, 3.0)),
    "EnhanceContrast": _enhance(_contrast_degenerate, (0.5, 1.5)),
    "EnhanceBrightness": _enhance(lambda imgs: 0.0, (0.5, 1.5)),
    "EnhanceSharpness": _enhance(pil_smooth, (0.0, 2.0)),
}
SUPPORTED = tuple(sorted(_AUGMENTERS))

# imgaug's own bookkeeping arguments: randomness comes from the pipeline's rng instead.
_IGNORED_ARGS = ("name", "seed", "random_state", "deterministic")


def build_augmenter(spec: Mapping) -> Draw:
  """The ``draw`` function of one ``dict(type=<imgaug augmenter name>, **kwargs)``."""
  if not isinstance(spec, Mapping) or "type" not in spec:
    raise TypeError(f"Imgaug: each transform must be a dict with a 'type', got {spec!r}")
  kwargs = {k: v for k, v in spec.items() if k != "type" and k not in _IGNORED_ARGS}
  name = spec["type"]
  if not isinstance(name, str):
    raise TypeError(f"Imgaug: 'type' must be an imgaug augmenter name (vjax has no imgaug "
                    f"classes), got {name!r}")
  if name not in _AUGMENTERS:
    raise ValueError(f"Imgaug: augmenter {name!r} is not supported; supported: "
                     f"{', '.join(SUPPORTED)}")
  try:
    return _AUGMENTERS[name](**kwargs)
  except TypeError as e:
    raise TypeError(f"Imgaug: bad arguments for {name}: {e}") from e


def randaugment_transforms(num_augmenters: int = 2, magnitude: int = 9,
                           max_magnitude: int = 10) -> list[dict]:
  """MMAction2's default ``Imgaug`` transforms: RandAugment (N=2, M=9) as imgaug specs.

  Magnitudes follow TensorFlow's AutoAugment code, as MMAction2's list does
  (without SolarizeAdd, which imgaug lacks). MMAction2 picks the sign of each
  geometric magnitude once, when the op is built; here it is a ``Choice`` drawn
  for each clip, as RandAugment intends.
  """
  level = magnitude / max_magnitude
  enhance = 1.8 * level + 0.1

  def signed(v):
    return Choice((-v, v))

  return [dict(type="SomeOf", n=num_augmenters, children=[
      dict(type="ShearX", shear=signed(17.19 * level)),
      dict(type="ShearY", shear=signed(17.19 * level)),
      dict(type="TranslateX", percent=signed(0.2 * level)),
      dict(type="TranslateY", percent=signed(0.2 * level)),
      dict(type="Rotate", rotate=signed(30 * level)),
      dict(type="Posterize", nb_bits=max(1, int(4 * level))),
      dict(type="Solarize", threshold=256 * level),
      dict(type="EnhanceColor", factor=enhance),
      dict(type="EnhanceContrast", factor=enhance),
      dict(type="EnhanceBrightness", factor=enhance),
      dict(type="EnhanceSharpness", factor=enhance),
      dict(type="Autocontrast", cutoff=0),
      dict(type="Equalize"),
      dict(type="Invert", p=1.0),
      dict(type="Cutout", nb_iterations=1, size=0.2 * level, squared=True),
  ])]


@PIPELINES.register
class Imgaug:
  """imgaug-style augmentation of uint8 RGB frames, the same random draw for every frame.

  ``transforms='default'`` is MMAction2's RandAugment (``randaugment_transforms``):
  two of 15 augmenters at magnitude 9/10. Otherwise a list of
  ``dict(type=<imgaug augmenter name>, **imgaug arguments)``; supported types:

  - wrappers: ``Sequential``, ``SomeOf``, ``OneOf``, ``Sometimes``, ``Identity``/``Noop``;
  - geometry: ``Affine`` (scale, translate_percent/px, rotate, shear, order 0/1/3,
    cval, mode; no fit_output), ``Rotate``, ``ShearX``, ``ShearY``, ``TranslateX``,
    ``TranslateY``, ``Fliplr``, ``Flipud``;
  - intensity: ``Invert``, ``Solarize`` (imgaug's, threshold (64, 192)),
    ``Posterize`` (keep ``nb_bits`` high bits), ``Sharpen``, ``Cutout``
    (constant fill only);
  - imgaug.pillike: ``Equalize``, ``Autocontrast`` (alias ``AutoContrast``),
    ``EnhanceColor``, ``EnhanceContrast``, ``EnhanceBrightness``, ``EnhanceSharpness``
    (computed as PIL does, in numpy).

  Other names raise ``ValueError`` listing these. imgaug's ``name``/``seed``
  arguments are ignored (randomness comes from the pipeline's ``rng``); imgaug
  ``Augmenter`` objects and ``StochasticParameter`` values are not accepted.
  Sets ``img_shape``; boxes (AVA) are not handled yet.
  """

  def __init__(self, transforms):
    if isinstance(transforms, str):
      if transforms != "default":
        raise ValueError(f"Imgaug transforms must be 'default' or a list of dicts, "
                         f"got {transforms!r}")
      self.transforms = randaugment_transforms()
    elif isinstance(transforms, Sequence) and all(isinstance(t, Mapping) for t in transforms):
      self.transforms = list(transforms)
    else:
      raise ValueError(f"Imgaug transforms must be 'default' or a list of dicts, "
                       f"got {transforms!r}")
    self.aug = _sequential(self.transforms)

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    _check_no_boxes(results, "Imgaug")
    imgs = get_imgs(results)
    if results.get("modality", "RGB") != "RGB" or imgs.shape[-1] != 3:
      raise ValueError(f"Imgaug only supports RGB frames, got modality "
                       f"{results.get('modality', 'RGB')!r} with {imgs.shape[-1]} channels")
    if imgs.dtype != np.uint8:
      raise TypeError(f"Imgaug needs uint8 frames, got {imgs.dtype}; put it before Normalize")
    imgs = self.aug(as_rng(rng))(imgs)
    results["imgs"] = imgs
    results["img_shape"] = imgs.shape[1:3]
    return results

  def __repr__(self) -> str:
    return f"{type(self).__name__}(transforms={self.transforms})"
