"""Procedural multi-label videos: which shape kinds, which colours, which background.

A video shows one to three saturated shapes of distinct kinds (``KINDS``), each in its own
quadrant of the frame, each painted one of the ``COLOURS`` (colours may repeat), over a
low-saturation background of one of the ``SCENES`` styles. The shapes wobble and spin from
frame to frame (so the frames a TSN samples show new views of them) but stay whole inside
their quadrant: every tag is visible in every frame, for a 2D network that averages frames.
Colours and backgrounds are learnt fastest; shape kinds, which must be told apart whatever
their colour, take longest.

Tags by task (see ``builder``):
* ``multilabel`` (MMiT style): the shape kinds present, a many-hot over ``KINDS``;
* ``hvu``: categories ``attribute`` (colours present), ``object`` (kinds present) and
  ``scene`` (background style), in MMAction2's category names and order; a category is left
  unannotated for a video with probability ``missing_prob`` (never all of them), as HVU
  videos lack some categories.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

KINDS = ("circle", "square", "triangle", "cross", "ring", "bar")
COLOURS = {"red": (235, 40, 40), "green": (40, 200, 60), "blue": (45, 80, 240),
           "yellow": (240, 220, 40), "magenta": (225, 50, 225), "cyan": (40, 215, 225)}
COLOUR_NAMES = tuple(COLOURS)
SCENES = ("texture", "stripes", "checker", "gradient")
# HVU layout: MMAction2's category names, in its (alphabetical) order.
HVU_CATEGORIES = ("attribute", "object", "scene")
HVU_TAGS = {"attribute": COLOUR_NAMES, "object": KINDS, "scene": SCENES}
HVU_CATEGORY_NUMS = tuple(len(HVU_TAGS[c]) for c in HVU_CATEGORIES)
MAX_OBJECTS = 3
_SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel positions.
# Shape proportions, in radii: triangle circumradius, (half length, half width) of the bar
# and of each arm of the cross; _REACH: how far each kind reaches from its centre.
_TRIANGLE, _BAR, _CROSS_ARM = 1.15, (1.15, 0.33), (1.0, 0.3)
_REACH = {"triangle": _TRIANGLE, "bar": math.hypot(*_BAR), "cross": math.hypot(*_CROSS_ARM)}


class VideoSpec(NamedTuple):
  """What a video shows: its background style and its shapes (kind, colour indices)."""
  scene: int
  kinds: tuple[int, ...]
  colours: tuple[int, ...]


def tag_names(task: str) -> tuple[str, ...]:
  """The label vocabulary: ``KINDS`` (multilabel) or ``category/tag`` over HVU's layout."""
  if task == "multilabel":
    return KINDS
  if task == "hvu":
    return tuple(f"{c}/{t}" for c in HVU_CATEGORIES for t in HVU_TAGS[c])
  raise ValueError(f"task must be 'multilabel' or 'hvu', got {task!r}")


def hvu_tags(spec: VideoSpec) -> dict[str, list[int]]:
  """Every category's tags (indices within the category) of a video."""
  return {"attribute": sorted(set(spec.colours)), "object": sorted(set(spec.kinds)),
          "scene": [spec.scene]}


def hvu_annotated(seed_or_rng, missing_prob: float) -> tuple[bool, ...]:
  """Which HVU categories a video is annotated with: each kept with 1 - ``missing_prob``,
  at least one."""
  rng = np.random.default_rng(seed_or_rng)
  keep = rng.random(len(HVU_CATEGORIES)) >= missing_prob
  if not keep.any():
    keep[int(rng.integers(len(HVU_CATEGORIES)))] = True
  return tuple(bool(k) for k in keep)


def _background(rng: np.random.Generator, scene: int, height: int, width: int) -> np.ndarray:
  """A low-saturation background of style ``SCENES[scene]``: float32 (H, W, 3)."""
  size = min(height, width)
  level, amp = rng.uniform(85, 165), rng.uniform(25, 40)
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  angle = rng.uniform(0, 2 * math.pi)
  style = SCENES[scene]
  if style == "texture":
    noise = rng.normal(size=(height, width)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), 0.06 * size)
    base = (tex - tex.mean()) / (tex.std() + 1e-6)
  elif style == "stripes":
    period = rng.uniform(0.16, 0.3) * size
    base = np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / period +
                  rng.uniform(0, 2 * math.pi)) * 1.2
  elif style == "checker":
    cell = rng.uniform(0.12, 0.2) * size
    base = np.sign(np.sin(math.pi * (x + rng.uniform(0, cell)) / cell) *
                   np.sin(math.pi * (y + rng.uniform(0, cell)) / cell))
    base = cv2.GaussianBlur(base.astype(np.float32), (0, 0), 0.5)
  else:  # gradient
    ramp = x * math.cos(angle) + y * math.sin(angle)
    base = (ramp - ramp.mean()) / (ramp.std() + 1e-6) * 1.2
  tint = rng.uniform(-10, 10, size=3).astype(np.float32)
  return base[..., None].astype(np.float32) * amp + level + tint


def _polygons(kind: str, radius: float, angle: float) -> list[np.ndarray]:
  """The filled polygons (centred at 0) of a polygonal shape kind."""

  def rect(half_len, half_wid, a):
    c, s = math.cos(a), math.sin(a)
    corners = [(half_len, half_wid), (-half_len, half_wid), (-half_len, -half_wid),
               (half_len, -half_wid)]
    return np.array([(u * c - v * s, u * s + v * c) for u, v in corners])

  if kind in ("square", "triangle"):
    n, r = (4, radius) if kind == "square" else (3, _TRIANGLE * radius)
    a = angle + 2 * math.pi * np.arange(n) / n
    return [np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)]
  if kind == "cross":
    arm = (_CROSS_ARM[0] * radius, _CROSS_ARM[1] * radius)
    return [rect(*arm, angle), rect(*arm, angle + math.pi / 2)]
  if kind == "bar":
    return [rect(_BAR[0] * radius, _BAR[1] * radius, angle)]
  raise ValueError(kind)


def _draw(frame: np.ndarray, kind: str, cx: float, cy: float, radius: float, angle: float,
          colour) -> None:
  scale = 1 << _SHIFT
  centre = (round(cx * scale), round(cy * scale))
  if kind == "circle":
    cv2.circle(frame, centre, round(radius * scale), colour, -1, cv2.LINE_AA, _SHIFT)
  elif kind == "ring":
    thick = max(2.0, 0.4 * radius)
    cv2.circle(frame, centre, round((radius - thick / 2) * scale), colour,
               max(1, round(thick)), cv2.LINE_AA, _SHIFT)
  else:
    pts = [np.round((p + (cx, cy)) * scale).astype(np.int32)
           for p in _polygons(kind, radius, angle)]
    for p in pts:
      cv2.fillPoly(frame, [p], colour, cv2.LINE_AA, _SHIFT)


def generate_video(seed_or_rng, *, num_frames: int = 8, height: int = 32,
                   width: int = 32) -> tuple[np.ndarray, VideoSpec]:
  """Renders one video: (uint8 RGB frames (num_frames, height, width, 3), its ``VideoSpec``).

  ``seed_or_rng`` is anything ``np.random.default_rng`` accepts; the same seed and sizes
  always give the same video.
  """
  rng = np.random.default_rng(seed_or_rng)
  scene = int(rng.integers(len(SCENES)))
  n = int(rng.integers(1, MAX_OBJECTS + 1))
  kinds = tuple(int(k) for k in rng.choice(len(KINDS), size=n, replace=False))
  colours = tuple(int(c) for c in rng.integers(len(COLOURS), size=n))
  background = _background(rng, scene, height, width)
  quadrants = rng.permutation(4)[:n]
  size = min(height, width)
  shapes = []
  for kind, colour, q in zip(kinds, colours, quadrants):
    # Large shapes (a quadrant each) learn fast; capped so that the farthest point of the
    # shape, with its anti-aliased rim, stays inside the quadrant.
    reach = _REACH.get(KINDS[kind], 1.0)
    radius = min(rng.uniform(0.17, 0.22) * size, (size / 4 - 1.0) / reach)
    room_x = max(width / 4 - reach * radius - 1.0, 0.0)
    room_y = max(height / 4 - reach * radius - 1.0, 0.0)
    cx = (q % 2 + 0.5) * width / 2 + rng.uniform(-0.5, 0.5) * room_x
    cy = (q // 2 + 0.5) * height / 2 + rng.uniform(-0.5, 0.5) * room_y
    wobble = (rng.uniform(0, 0.5) * room_x, rng.uniform(0, 0.5) * room_y,
              rng.uniform(0.2, 0.6), rng.uniform(0, 2 * math.pi))
    rgb = np.clip(np.array(COLOURS[COLOUR_NAMES[colour]]) + rng.uniform(-20, 20, size=3), 0,
                  255)
    shapes.append((KINDS[kind], cx, cy, radius, rng.uniform(0, 2 * math.pi),
                   rng.choice([-1, 1]) * rng.uniform(0.1, 0.3), wobble,
                   tuple(float(c) for c in rgb)))
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  for t in range(num_frames):
    frame = np.clip(background + rng.normal(0, 2.0, size=background.shape), 0, 255)
    frame = frame.round().astype(np.uint8)
    for kind, cx, cy, radius, angle, spin, (ax, ay, freq, phase), rgb in shapes:
      _draw(frame, kind, cx + ax * math.sin(freq * t + phase),
            cy + ay * math.cos(freq * t + phase), radius, angle + spin * t, rgb)
    frames[t] = frame
  return frames, VideoSpec(scene, kinds, colours)


def encode_jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
  """JPEG-encodes one RGB uint8 frame."""
  ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])
  if not ok:
    raise RuntimeError("cv2.imencode failed to encode a frame as JPEG")
  return buf.tobytes()
