"""Procedural videos whose class is a motion, so no single frame reveals it.

A video is a low-saturation periodic texture panning in a random direction
(independent of the class) with one or two saturated shapes moving, with
wrap-around, at the class velocity. Class ``k`` maps to a direction
``k // num_speeds`` (of ``num_directions`` evenly spaced angles, 0 = rightwards,
counter-clockwise with the image y axis pointing down) and a speed level
``k % num_speeds``. Every frame's distribution (positions, colours, texture) is
the same for all classes; only the displacement between frames tells them apart.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Speed of level ``s`` in pixels per frame is ``(_SPEED_BASE + _SPEED_STEP * s) * min(H, W)``.
_SPEED_BASE = 0.015
_SPEED_STEP = 0.025
# Background pan speed is drawn uniformly in [0, _BG_MAX_SPEED * min(H, W)] px per frame.
_BG_MAX_SPEED = 0.015
_SHIFT = 4  # cv2 drawing uses 4 fractional bits: sub-pixel shape positions.
_SHAPES = ("circle", "square", "triangle")


def num_classes(num_directions: int, num_speeds: int) -> int:
  return num_directions * num_speeds


def class_velocity(label: int, num_directions: int = 4, num_speeds: int = 2,
                   size: int = 64) -> tuple[float, float]:
  """Nominal (vx, vy) in pixels per frame of class ``label`` for frames of side ``size``."""
  if not 0 <= label < num_directions * num_speeds:
    raise ValueError(f"label {label} out of range for {num_directions} directions x "
                     f"{num_speeds} speeds")
  direction, level = divmod(int(label), num_speeds)
  angle = 2 * math.pi * direction / num_directions
  speed = (_SPEED_BASE + _SPEED_STEP * level) * size
  return speed * math.cos(angle), -speed * math.sin(angle)


def _background(rng: np.random.Generator, t: np.ndarray, height: int, width: int) -> np.ndarray:
  """Sum of a few periodic gratings, panned by a random velocity: float32 (T, H, W, 3)."""
  size = min(height, width)
  pan_angle = rng.uniform(0, 2 * math.pi)
  pan_speed = rng.uniform(0, _BG_MAX_SPEED * size)
  bx, by = pan_speed * math.cos(pan_angle), pan_speed * math.sin(pan_angle)
  base = (rng.uniform(70, 180) + rng.uniform(-12, 12, size=3)).astype(np.float32)
  ys = np.arange(height, dtype=np.float32)
  xs = np.arange(width, dtype=np.float32)
  num_waves = 4
  waves = np.empty((num_waves, len(t), height, width), np.float32)
  colours = np.empty((num_waves, 3), np.float32)
  for k in range(num_waves):
    fx, fy = 0, 0
    while fx == 0 and fy == 0:  # Integer frequencies keep the texture periodic (wraps cleanly).
      fx, fy = rng.integers(-3, 4, size=2)
    phase0 = rng.uniform(0, 2 * math.pi)
    colours[k] = rng.uniform(4, 12) * (1 + rng.uniform(-0.15, 0.15, size=3))
    # cos(a(t, y) + b(x)) expanded so that only (T, H) and (W,) terms need trig.
    a = (-2 * math.pi * (fx * bx / width + fy * by / height) * t + phase0)[:, None] + (
        2 * math.pi * fy / height) * ys[None, :]
    b = (2 * math.pi * fx / width) * xs
    waves[k] = (np.cos(a)[..., None] * np.cos(b) - np.sin(a)[..., None] * np.sin(b))
  # Plain multiply-adds rather than a matmul: BLAS threads only add contention at this size.
  out = np.empty((3, len(t), height, width), np.float32)
  for c in range(3):
    out[c] = base[c]
    for k in range(num_waves):
      out[c] += colours[k, c] * waves[k]
  return out.transpose(1, 2, 3, 0)


def _saturated_colour(rng: np.random.Generator) -> tuple[int, int, int]:
  hsv = np.array([[[rng.integers(0, 180), rng.integers(210, 256), rng.integers(190, 256)]]],
                 dtype=np.uint8)
  return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _polygon(kind: str, radius: float, rotation: float) -> np.ndarray:
  n = 4 if kind == "square" else 3
  angles = rotation + 2 * math.pi * np.arange(n) / n
  return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=-1)


def _draw(frame: np.ndarray, kind: str, cx: float, cy: float, radius: float,
          poly: np.ndarray | None, colour) -> None:
  """Draws one shape at (cx, cy) and its wrap-around copies, anti-aliased, in place."""
  h, w = frame.shape[:2]
  scale = 1 << _SHIFT
  for ox in (-w, 0, w):
    for oy in (-h, 0, h):
      x, y = cx + ox, cy + oy
      if x + radius < 0 or x - radius > w or y + radius < 0 or y - radius > h:
        continue
      if kind == "circle":
        cv2.circle(frame, (round(x * scale), round(y * scale)), round(radius * scale), colour,
                   -1, cv2.LINE_AA, _SHIFT)
      else:
        pts = np.round((poly + (x, y)) * scale).astype(np.int32)
        cv2.fillPoly(frame, [pts], colour, cv2.LINE_AA, _SHIFT)


def generate_video(seed_or_rng, label: int, *, num_frames: int = 16, height: int = 32,
                   width: int = 32, num_directions: int = 4, num_speeds: int = 2) -> np.ndarray:
  """Renders one video of class ``label``: uint8 RGB array (num_frames, height, width, 3).

  ``seed_or_rng`` is anything ``np.random.default_rng`` accepts (int, SeedSequence,
  Generator); the same seed and arguments always give the same frames.
  """
  rng = np.random.default_rng(seed_or_rng)
  size = min(height, width)
  vx, vy = class_velocity(label, num_directions, num_speeds, size)
  t = np.arange(num_frames, dtype=np.float32)
  frames = np.ascontiguousarray(
      np.clip(_background(rng, t, height, width), 0, 255).round().astype(np.uint8))

  shapes = []
  for _ in range(int(rng.integers(1, 3))):
    kind = _SHAPES[int(rng.integers(len(_SHAPES)))]
    radius = rng.uniform(0.09, 0.16) * size
    poly = None if kind == "circle" else _polygon(kind, radius, rng.uniform(0, 2 * math.pi))
    # Small per-shape jitter of the class velocity; levels and directions stay well apart.
    gain = rng.uniform(0.9, 1.1)
    turn = rng.uniform(-0.15, 0.15)
    svx = gain * (vx * math.cos(turn) - vy * math.sin(turn))
    svy = gain * (vx * math.sin(turn) + vy * math.cos(turn))
    x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
    shapes.append((kind, radius, poly, _saturated_colour(rng), x0, y0, svx, svy))

  for i in range(num_frames):
    for kind, radius, poly, colour, x0, y0, svx, svy in shapes:
      _draw(frames[i], kind, (x0 + svx * i) % width, (y0 + svy * i) % height, radius, poly,
            colour)
  return frames


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
  """JPEG-encodes one RGB uint8 frame (TFDS cannot encode numpy images without TensorFlow)."""
  ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])
  if not ok:
    raise RuntimeError("cv2.imencode failed to encode a frame as JPEG")
  return buf.tobytes()
