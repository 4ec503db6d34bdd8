"""Procedural videos whose class is a motion, so no single frame reveals it.

A video is a smooth random colour texture that pans, with wrap-around, at the class
velocity, under one or two saturated shapes that move at random velocities (distractors,
independent of the class). Class ``k`` maps to a direction ``k // num_speeds`` (of
``num_directions`` evenly spaced angles, 0 = rightwards, counter-clockwise with the image y
axis pointing down) and a speed level ``k % num_speeds``. Every frame's distribution
(texture, colours, shape positions) is the same for all classes; only the displacement
between frames tells them apart. The class motion covers the whole frame, so a small video
network learns it in a few hundred CPU steps (a class carried by small shapes alone took
thousands).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Speed of level ``s`` in pixels per frame is ``(_SPEED_BASE + _SPEED_STEP * s) * min(H, W)``.
_SPEED_BASE = 0.015
_SPEED_STEP = 0.02
# Texture smoothness: Gaussian sigma as a fraction of min(H, W).
_TEXTURE_SIGMA = 0.05
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


def _background(rng: np.random.Generator, velocity: tuple[float, float], num_frames: int,
                height: int, width: int) -> np.ndarray:
  """A periodic smooth colour texture panned by ``velocity``: uint8 (T, H, W, 3)."""
  noise = rng.normal(size=(height, width, 3)).astype(np.float32)
  # Blurring the 3x3 tiling and keeping the centre makes the texture periodic (wraps cleanly).
  sigma = _TEXTURE_SIGMA * min(height, width)
  tex = cv2.GaussianBlur(np.tile(noise, (3, 3, 1)), (0, 0), sigma)[height:2 * height,
                                                                   width:2 * width]
  tex = (tex - tex.mean()) / (tex.std() + 1e-6)
  tex = tex * rng.uniform(25, 45) + rng.uniform(90, 165) + rng.uniform(-12, 12, size=3)
  vx, vy = velocity
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  for i in range(num_frames):
    shift = np.float32([[1, 0, vx * i], [0, 1, vy * i]])
    frames[i] = np.clip(cv2.warpAffine(tex, shift, (width, height), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_WRAP), 0, 255).round()
  return frames


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
  frames = _background(rng, class_velocity(label, num_directions, num_speeds, size), num_frames,
                       height, width)
  max_speed = (_SPEED_BASE + _SPEED_STEP * (num_speeds - 1)) * size
  shapes = []
  for _ in range(int(rng.integers(1, 3))):
    kind = _SHAPES[int(rng.integers(len(_SHAPES)))]
    radius = rng.uniform(0.09, 0.16) * size
    poly = None if kind == "circle" else _polygon(kind, radius, rng.uniform(0, 2 * math.pi))
    speed, angle = rng.uniform(0, max_speed), rng.uniform(0, 2 * math.pi)
    x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
    shapes.append((kind, radius, poly, _saturated_colour(rng), x0, y0, speed * math.cos(angle),
                   speed * math.sin(angle)))

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
