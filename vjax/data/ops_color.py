"""Colour augmentation: MMAction2's ``ColorJitter`` on stacked frames (N, H, W, 3).

The adjustments are pure functions of float32 frames so they can be checked
against their formulas; the op draws one set of factors per clip, so every
frame of a clip gets the same jitter.
"""

from __future__ import annotations

import cv2
import numpy as np

from vjax.data.ops_base import PIPELINES, as_rng, get_imgs

# MMAction2's grey weights (ITU-R 601 luma, as torchvision uses).
_GREY = np.array([0.2989, 0.587, 0.114], np.float32)


def grey(imgs: np.ndarray) -> np.ndarray:
  """Luma of RGB float frames, (..., H, W)."""
  return imgs @ _GREY


def adjust_brightness(imgs: np.ndarray, factor: float) -> np.ndarray:
  return imgs * np.float32(factor)


def adjust_contrast(imgs: np.ndarray, factor: float) -> np.ndarray:
  """Blends each frame with its own mean luma."""
  mean = grey(imgs).mean(axis=(-2, -1), keepdims=True)[..., None]
  out = imgs * np.float32(factor)  # In place from here: it runs on every training clip.
  out += np.float32(1 - factor) * mean
  return out


def adjust_saturation(imgs: np.ndarray, factor: float) -> np.ndarray:
  """Blends each pixel with its own luma."""
  out = imgs * np.float32(factor)
  out += (np.float32(1 - factor) * grey(imgs))[..., None]
  return out


def adjust_hue(imgs: np.ndarray, factor: float) -> np.ndarray:
  """Rotates hue by ``int(factor * 255)`` OpenCV hue units (2 degrees each), as MMAction2.

  The frames are clipped and truncated to uint8 first, because the HSV round
  trip goes through OpenCV's 8-bit conversion.
  """
  shape = imgs.shape
  rgb = np.clip(imgs, 0, 255).astype(np.uint8).reshape(-1, shape[-2], 3)  # cv2 wants 2-D images.
  hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
  shift = ((np.arange(256) + int(factor * 255)) % 180).astype(np.uint8)
  hsv[..., 0] = shift[hsv[..., 0]]
  return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(shape).astype(np.float32)


_ADJUSTMENTS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
_NEUTRAL = (1.0, 1.0, 1.0, 0.0)


def color_jitter(imgs: np.ndarray, factors, order) -> np.ndarray:
  """Applies brightness, contrast, saturation and hue ``factors`` in ``order`` (a
  permutation of 0..3 indexing those four); returns uint8 frames (clipped, truncated).

  Neutral factors (1, 1, 1, 0) are skipped, which matters only for hue: its
  uint8 round trip is not exact.
  """
  out = np.asarray(imgs, np.float32)
  for i in order:
    if factors[i] != _NEUTRAL[i]:
      out = _ADJUSTMENTS[i](out, factors[i])
  return np.clip(out, 0, 255).astype(np.uint8)


def _jitter_range(value, bound: float, centre: float, name: str) -> tuple[float, float]:
  """A number ``v`` means ``(centre - v, centre + v)``; a pair is taken as the range."""
  if isinstance(value, (tuple, list)):
    lo, hi = (float(v) for v in value)
    if not centre - bound <= lo <= hi <= centre + bound:
      raise ValueError(f"ColorJitter {name} range {value} must lie within "
                       f"[{centre - bound}, {centre + bound}] and be increasing")
    return lo, hi
  if not 0 <= value <= bound:
    raise ValueError(f"ColorJitter {name}={value} must be in [0, {bound}]")
  return centre - float(value), centre + float(value)


@PIPELINES.register
class ColorJitter:
  """Random brightness, contrast, saturation and hue, the same for every frame of the clip.

  Each factor is uniform in its range: ``brightness``, ``contrast`` and
  ``saturation`` (a number ``v`` means ``[1 - v, 1 + v]``) scale the frame,
  blend it with its mean grey, and blend each pixel with its grey; ``hue`` (a
  number ``v`` means ``[-v, v]``, at most 0.5) shifts hue by ``int(h * 255)``
  OpenCV units as MMAction2 does. The four are applied in a random order and
  the result is clipped and truncated to uint8.

  MMAction2 draws that order once, when the op is built, with the global numpy
  generator; vjax draws it for each clip from the pipeline's ``rng`` (as
  torchvision does), so runs are reproducible under a seed.
  """

  def __init__(self, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.1):
    self.brightness = _jitter_range(brightness, 1, 1, "brightness")
    self.contrast = _jitter_range(contrast, 1, 1, "contrast")
    self.saturation = _jitter_range(saturation, 1, 1, "saturation")
    self.hue = _jitter_range(hue, 0.5, 0, "hue")

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    rng = as_rng(rng)
    imgs = get_imgs(results)
    if imgs.shape[-1] != 3:
      raise ValueError(f"ColorJitter needs RGB frames, got {imgs.shape[-1]} channels")
    order = rng.permutation(4)
    factors = [rng.uniform(*r) for r in (self.brightness, self.contrast, self.saturation,
                                         self.hue)]
    results["imgs"] = color_jitter(imgs, factors, order)
    return results

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})")
