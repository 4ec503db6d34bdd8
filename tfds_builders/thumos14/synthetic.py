"""A small THUMOS14-like dataset for SSN's CPU runs and tests, in MMAction2's THUMOS14 layout.

``prepare(data_dir)`` writes (once, deterministically) ``rawframes/{val,test}/<video_id>/
img_00001.jpg ...`` and denormalised TAG proposal lists ``thumos14_tag_{val,test}_proposal_list
.txt``, the files ``SSNDataset`` and the ``thumos14`` builder read from a real download.

Each video is a noisy grey background in which one or two actions are planted: frames
``[start, end)`` of an action of class ``c`` (1..num_classes) show a square of the class's
colour drifting across the frame. Proposals are noisy copies of the actions (tight ones,
loose ones, short pieces inside an action, long ones around it) and segments of background,
each with its TAG ``label best_iou overlap_self`` against the ground truth, as MMAction2's
proposal lists have them.
"""

from __future__ import annotations

import json
import os
import os.path as osp
import shutil

import numpy as np

NAME = "thumos14_synthetic"
# Class c's square colour (RGB), c = 1..
COLOURS = ((220, 40, 40), (40, 200, 60), (60, 90, 235), (230, 200, 40), (200, 60, 210))


def proposal_file(split: str) -> str:
  if split not in ("val", "test"):
    raise KeyError(f"{NAME} has splits 'val' (MMAction2 trains on THUMOS14's val) and 'test', "
                   f"not {split!r}")
  return f"thumos14_tag_{split}_proposal_list.txt"


def _iou_overlap(s: int, e: int, gts) -> tuple[int, float, float]:
  """(label of the best-IoU ground truth or 0, best IoU, largest share of [s, e) inside one)."""
  best, label, overlap = 0.0, 0, 0.0
  for g_label, gs, ge in gts:
    inter = max(0, min(e, ge) - max(s, gs))
    iou = inter / (max(e, ge) - min(s, gs)) if inter else 0.0
    if iou > best:
      best, label = iou, g_label
    overlap = max(overlap, inter / (e - s))
  return label, best, overlap


def plan_video(rng: np.random.Generator, num_classes: int, min_frames: int, max_frames: int):
  """(num_frames, ground truth [(label, start, end)], proposals [(label, iou, overlap, s, e)])."""
  n = int(rng.integers(min_frames, max_frames + 1))
  num_actions = int(rng.integers(1, 3))
  gts = []
  slot = n // num_actions
  for a in range(num_actions):
    length = int(rng.integers(max(6, slot // 4), max(7, slot // 2)))
    start = a * slot + int(rng.integers(2, max(3, slot - length - 1)))
    gts.append((int(rng.integers(1, num_classes + 1)), start, min(n - 1, start + length)))
  spans = []
  for _, s, e in gts:
    d = e - s
    for jitter, count in ((0.08, 3), (0.3, 2)):
      for _ in range(count):
        spans.append((s + rng.normal(0, jitter) * d, e + rng.normal(0, jitter) * d))
    for _ in range(3):  # short pieces inside: incomplete
      piece = d * rng.uniform(0.15, 0.3)
      a = s + rng.uniform(0, d - piece)
      spans.append((a, a + piece))
    spans.append((s - rng.uniform(0.5, 1.0) * d, e + rng.uniform(0.5, 1.0) * d))
  busy = np.zeros(n, bool)
  for _, s, e in gts:
    busy[max(0, s - 2):e + 2] = True
  free = np.flatnonzero(~busy)
  for _ in range(4):  # background
    if len(free) < 4:
      break
    a = int(rng.choice(free))
    b = a
    while b + 1 < n and not busy[b + 1] and b - a < n // 6:
      b += 1
    if b - a >= 3:
      spans.append((a, b + 1))
  proposals = []
  for s, e in spans:
    s, e = int(np.clip(round(s), 0, n - 2)), int(np.clip(round(e), 1, n))
    if e - s < 2:
      continue
    label, iou, overlap = _iou_overlap(s, e, gts)
    proposals.append((label, round(iou, 4), round(overlap, 4), s, e))
  return n, gts, proposals


def render(n: int, gts, rng: np.random.Generator, size: int = 32) -> np.ndarray:
  """(n, size, size, 3) uint8 frames: grey noise, class-coloured drifting squares in actions."""
  base = rng.uniform(70, 150)
  frames = np.clip(base + rng.normal(0, 18, (n, size, size, 1)), 0, 255)
  frames = np.repeat(frames, 3, axis=-1)
  for label, s, e in gts:
    colour = np.array(COLOURS[(label - 1) % len(COLOURS)], np.float64)
    side = int(rng.integers(size // 3, size // 2))
    y0, x0 = rng.integers(0, size - side, 2)
    vy, vx = rng.uniform(-0.6, 0.6, 2)
    for t in range(s, e):
      y = int(np.clip(y0 + vy * (t - s), 0, size - side))
      x = int(np.clip(x0 + vx * (t - s), 0, size - side))
      frames[t, y:y + side, x:x + side] = colour + rng.normal(0, 12, (side, side, 3))
  return np.clip(frames, 0, 255).astype(np.uint8)


def _tag_block(index: int, video_id: str, n: int, gts, proposals) -> str:
  lines = [f"# {index}", video_id, str(n), "1", str(len(gts))]
  lines += [f"{l} {s} {e}" for l, s, e in gts]
  lines.append(str(len(proposals)))
  lines += [f"{l} {iou:.4f} {ov:.4f} {s} {e}" for l, iou, ov, s, e in proposals]
  return "\n".join(lines) + "\n"


def prepare(data_dir: str | None = None, num_classes: int = 3, num_val: int = 32,
            num_test: int = 12, min_frames: int = 72, max_frames: int = 120, size: int = 32,
            seed: int = 0) -> str:
  """Writes the dataset once under ``data_dir`` (default ``~/.cache/vjax``) and returns its
  folder (``rawframes/``, the two TAG lists)."""
  import cv2  # pylint: disable=g-import-not-at-top
  options = dict(num_classes=num_classes, num_val=num_val, num_test=num_test,
                 min_frames=min_frames, max_frames=max_frames, size=size, seed=seed)
  if not 1 <= num_classes <= len(COLOURS) or min(num_val, num_test) < 1 or not (
      24 <= min_frames <= max_frames) or size < 16:
    raise ValueError(f"{NAME}: options {options} need 1 <= num_classes <= {len(COLOURS)}, "
                     "num_val, num_test >= 1, 24 <= min_frames <= max_frames and size >= 16")
  name = "_".join(f"{k}{v}" for k, v in options.items())
  root = osp.join(osp.expanduser(data_dir or "~/.cache/vjax"), NAME, name)
  if osp.isfile(osp.join(root, "DONE")):
    return root
  tmp = f"{root}.tmp{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  for split, count in (("val", num_val), ("test", num_test)):
    blocks = []
    for i in range(count):
      rng = np.random.default_rng([seed, 0 if split == "val" else 1, i])
      video_id = f"video_{'validation' if split == 'val' else 'test'}_{i:07d}"
      n, gts, proposals = plan_video(rng, num_classes, min_frames, max_frames)
      folder = osp.join(tmp, "rawframes", split, video_id)
      os.makedirs(folder)
      for t, frame in enumerate(render(n, gts, rng, size)):
        cv2.imwrite(osp.join(folder, f"img_{t + 1:05d}.jpg"), frame[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
      blocks.append(_tag_block(i, video_id, n, gts, proposals))
    with open(osp.join(tmp, proposal_file(split)), "w") as f:
      f.writelines(blocks)
  with open(osp.join(tmp, "DONE"), "w") as f:
    json.dump(options, f)
  try:
    os.makedirs(osp.dirname(root), exist_ok=True)
    os.rename(tmp, root)
  except OSError:  # another process finished first; its copy is identical
    if not osp.isfile(osp.join(root, "DONE")):
      raise
    shutil.rmtree(tmp, ignore_errors=True)
  return root
