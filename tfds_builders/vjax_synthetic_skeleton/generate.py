"""Procedurally animated skeletons whose class is a motion, not a pose.

A person is a posable body of four limb groups (right arm, left arm, legs, torso); each group's
pose is a smooth function of one angle ``phi`` on a closed loop of poses (an arm's hand traces
an ellipse mostly in the frontal plane, the legs open and bend while the pelvis drops, the
torso leans round a cone). A class says how each angle moves over time:

* frozen: ``phi`` stays where it started;
* circling: ``phi`` runs round the loop at ``speed`` loops/s (negative: the other way);
* swinging: ``phi`` runs once round the loop and back, at the same angular speed.

Every angle starts at a uniformly random point of its loop, so at any one frame every group's
pose is uniform on its loop whatever the class (a moving limb passes through exactly the poses a
frozen one is left in): a single frame tells nothing about the class, which is in how the poses
change (which groups move, which way round, how fast, whether they turn back). Speeds vary by
+-15 % per video, the body by height (1.5-1.9 m), place, yaw (+-35 degrees) and slow sway;
joints carry noise. A video has 1 or 2 persons: the second stands beside the actor and does the
same class or stays idle (every group frozen); the actor is person 0.

Layouts (``tfds_builders.posec3d.records``): 'ntu3d' gives Kinect camera-space joints in
metres (x to the person's right, y up, z away from the camera, the person facing it), as NTU
RGB+D's .skeleton files; 'coco2d' projects 17 COCO keypoints into a 1920x1080 image (focal
1050 px) with HRNet-like scores (0.8-0.95, dropping to 0.1-0.5 with extra jitter over short
occlusions).

How hard that is (preset 'small', 10 classes, chance 10 %; tests/builders/
test_skeleton_builders.py checks it): a nearest-centroid classifier on 12 motion statistics of
the actor (per group: mean speed, mean signed and mean unsigned swept area, in the frontal
plane) is right for 92 % of the validation videos on 'coco2d' and 97 % on 'ntu3d' (as the
builder stores it, pre-normalized); on the keypoints of one random frame it gets 8 % on both
(chance). A classifier has to look at how poses change.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

FPS = 30.0
IMG_SHAPE = (1080, 1920)  # (height, width), as NTU RGB+D's videos
FOCAL = 1050.0
FROZEN, CIRCLE, SWING = "frozen", "circle", "swing"
GROUPS = ("right_arm", "left_arm", "legs", "torso")


class ClassSpec(NamedTuple):
  """A class: its name and, per group of ``GROUPS``, (motion, loops per second)."""
  name: str
  motion: tuple[tuple[str, float], ...]


def _spec(name: str, **groups: tuple[str, float]) -> ClassSpec:
  return ClassSpec(name, tuple(groups.get(g, (FROZEN, 0.0)) for g in GROUPS))


CLASSES = (
    _spec("circle_right_arm", right_arm=(CIRCLE, 1.0)),
    _spec("circle_right_arm_backwards", right_arm=(CIRCLE, -1.0)),
    _spec("swing_right_arm", right_arm=(SWING, 1.0)),
    _spec("circle_left_arm", left_arm=(CIRCLE, 1.0)),
    _spec("swing_left_arm", left_arm=(SWING, 1.0)),
    _spec("circle_both_arms_fast", right_arm=(CIRCLE, 1.7), left_arm=(CIRCLE, 1.7)),
    _spec("swing_both_arms_slow", right_arm=(SWING, 0.7), left_arm=(SWING, 0.7)),
    _spec("bounce_legs", legs=(CIRCLE, 1.0)),
    _spec("bounce_legs_circle_right_arm", legs=(CIRCLE, 1.0), right_arm=(CIRCLE, 1.0)),
    _spec("circle_torso", torso=(CIRCLE, 0.8)),
)
MAX_CLASSES = len(CLASSES)

# NTU RGB+D joints (0-based) that make COCO's 17 keypoints; the face points are placed on the
# head (``_coco``).
NTU_JOINTS = ("spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow",
              "left_wrist", "left_hand", "right_shoulder", "right_elbow", "right_wrist",
              "right_hand", "left_hip", "left_knee", "left_ankle", "left_foot", "right_hip",
              "right_knee", "right_ankle", "right_foot", "spine_shoulder", "left_hand_tip",
              "left_thumb", "right_hand_tip", "right_thumb")
COCO_KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                  "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                  "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                  "right_ankle")
_COCO_FROM_NTU = (4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18)  # COCO keypoints 5..16
SPEED_JITTER = 0.15
JOINT_NOISE_M, PIXEL_NOISE = 0.012, 1.5
TWO_PERSON_PROB, SECOND_SAME_PROB = 0.35, 0.5


def class_names(num_classes: int) -> tuple[str, ...]:
  if not 1 <= num_classes <= MAX_CLASSES:
    raise ValueError(f"num_classes must be in [1, {MAX_CLASSES}], got {num_classes}")
  return tuple(c.name for c in CLASSES[:num_classes])


class VideoSpec(NamedTuple):
  """What was drawn for a video: its length and, per person, the motion of each group."""
  label: int
  total_frames: int
  persons: tuple[tuple[tuple[str, float], ...], ...]


def _unit(v: np.ndarray) -> np.ndarray:
  return v / np.linalg.norm(v, axis=-1, keepdims=True)


def group_angles(rng: np.random.Generator, motion, num_frames: int) -> np.ndarray:
  """(T, 4) angles of ``GROUPS`` for a person moving as ``motion`` (speeds jittered)."""
  t = np.arange(num_frames) / FPS
  out = np.empty((num_frames, len(GROUPS)))
  for g, (kind, speed) in enumerate(motion):
    start = rng.uniform(0, 2 * np.pi)
    speed = speed * rng.uniform(1 - SPEED_JITTER, 1 + SPEED_JITTER)
    if kind == FROZEN:
      out[:, g] = start
    elif kind == CIRCLE:
      out[:, g] = start + 2 * np.pi * speed * t
    else:  # once round the loop and back: u in [0, 2) -> 0..1..0
      u = np.mod(speed * t + rng.uniform(0, 2), 2.0)
      out[:, g] = start + 2 * np.pi * np.where(u < 1, u, 2 - u)
  return out


def body_joints(angles: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray]:
  """NTU's 25 joints (T, 25, 3) in the body frame (x right, y up, z forward, pelvis at the
  origin) for group angles (T, 4), and the head's (right, up, forward) axes (T, 3, 3)."""
  h = height
  right, up, fwd = np.eye(3)
  arm_r, arm_l, legs, torso = (angles[:, i:i + 1] for i in range(4))
  spine = _unit(up + 0.22 * np.sin(torso) * right + 0.18 * np.cos(torso) * fwd)
  t_right = _unit(right - (spine @ right)[:, None] * spine)
  t_fwd = np.cross(t_right, spine)
  drop = 0.06 * h * (1 - np.cos(legs)) / 2
  pelvis = -drop * up
  j = np.empty((len(angles), 25, 3))
  j[:, 0] = pelvis
  j[:, 1] = pelvis + 0.13 * h * spine
  j[:, 20] = pelvis + 0.28 * h * spine
  j[:, 2] = pelvis + 0.31 * h * spine
  j[:, 3] = j[:, 2] + 0.07 * h * spine + 0.015 * h * t_fwd
  for side, phi, (sh, el, wr, ha, tip, th) in ((1, arm_r, (8, 9, 10, 11, 23, 24)),
                                              (-1, arm_l, (4, 5, 6, 7, 21, 22))):
    upper = _unit((0.55 + 0.45 * np.cos(phi)) * side * t_right +
                  (-0.15 + 0.75 * np.sin(phi)) * spine + 0.35 * t_fwd)
    fore = _unit(upper + (0.5 + 0.4 * np.sin(phi + 0.8)) * spine + 0.3 * t_fwd)
    j[:, sh] = j[:, 20] + side * 0.11 * h * t_right
    j[:, el] = j[:, sh] + 0.17 * h * upper
    j[:, wr] = j[:, el] + 0.15 * h * fore
    j[:, ha] = j[:, wr] + 0.045 * h * fore
    j[:, tip] = j[:, ha] + 0.04 * h * fore
    j[:, th] = j[:, wr] + 0.035 * h * _unit(fore + t_fwd)
  width = 0.05 + 0.12 * (1 + np.sin(legs)) / 2
  bend = 0.15 + 0.45 * (1 - np.cos(legs)) / 2
  for side, (hip, knee, ankle, foot) in ((1, (16, 17, 18, 19)), (-1, (12, 13, 14, 15))):
    thigh = _unit(-up + side * width * right + 0.5 * bend * fwd)
    shin = _unit(-up + side * width * right - 0.6 * bend * fwd)
    j[:, hip] = pelvis + side * 0.06 * h * right
    j[:, knee] = j[:, hip] + 0.245 * h * thigh
    j[:, ankle] = j[:, knee] + 0.245 * h * shin
    j[:, foot] = j[:, ankle] + 0.06 * h * _unit(fwd - 0.3 * up)
  return j, np.stack([t_right, spine, t_fwd], 1)


def _coco(joints: np.ndarray, head_axes: np.ndarray, height: float) -> np.ndarray:
  """COCO's 17 keypoints (T, 17, 3) from NTU joints and the head's axes."""
  h = height
  head = joints[:, 3]
  right, up, fwd = head_axes[:, 0], head_axes[:, 1], head_axes[:, 2]
  eyes = head + 0.045 * h * fwd + 0.015 * h * up
  face = [head + 0.055 * h * fwd, eyes - 0.018 * h * right, eyes + 0.018 * h * right,
          head - 0.045 * h * right, head + 0.045 * h * right]
  return np.concatenate([np.stack(face, 1), joints[:, list(_COCO_FROM_NTU)]], 1)


def _smooth_walk(rng: np.random.Generator, num_frames: int, scale: float) -> np.ndarray:
  """(T,) slowly varying offsets of about ``scale``."""
  steps = rng.normal(size=num_frames + 30)
  kernel = np.hanning(31)
  walk = np.convolve(steps, kernel / np.sqrt((kernel ** 2).sum()), "valid")[:num_frames]
  return scale * walk


def _place(rng: np.random.Generator, points: np.ndarray, x0: float) -> np.ndarray:
  """Body-frame points (T, P, 3) -> camera space: yawed, facing the camera, swaying."""
  num_frames = len(points)
  yaw = rng.uniform(-0.6, 0.6) + _smooth_walk(rng, num_frames, 0.05)
  c, s = np.cos(yaw), np.sin(yaw)
  x, y, z = points[..., 0], points[..., 1], points[..., 2]
  # Yaw about the vertical, then body forward -> camera -z (the person faces the camera).
  xr, zr = c[:, None] * x + s[:, None] * z, -s[:, None] * x + c[:, None] * z
  root = np.stack([x0 + _smooth_walk(rng, num_frames, 0.03),
                   rng.uniform(-0.25, -0.05) + _smooth_walk(rng, num_frames, 0.01),
                   rng.uniform(2.8, 3.8) + _smooth_walk(rng, num_frames, 0.03)], -1)
  return np.stack([xr, y, -zr], -1) + root[:, None]


def project(points: np.ndarray) -> np.ndarray:
  """Camera-space points (..., 3) -> pixels (..., 2) of an ``IMG_SHAPE`` image; the person's
  left side lands on the image's right, as a camera facing them sees it."""
  h, w = IMG_SHAPE
  z = points[..., 2]
  return np.stack([w / 2 - FOCAL * points[..., 0] / z, h / 2 - FOCAL * points[..., 1] / z], -1)


def _scores(rng: np.random.Generator, num_frames: int,
            num_kp: int) -> tuple[np.ndarray, np.ndarray]:
  """HRNet-like scores (T, V) and the extra pixel jitter (T, V) of occluded spans."""
  score = np.clip(rng.normal(0.88, 0.04, size=(num_frames, num_kp)), 0.8, 0.95)
  jitter = np.zeros((num_frames, num_kp))
  for _ in range(int(rng.poisson(1.0))):
    kp, length = int(rng.integers(num_kp)), int(rng.integers(3, 13))
    start = int(rng.integers(max(num_frames - length, 1)))
    span = slice(start, start + length)
    score[span, kp] = rng.uniform(0.1, 0.5, size=len(range(num_frames)[span]))
    jitter[span, kp] = 8.0
  return score, jitter


def draw_spec(rng: np.random.Generator, label: int, min_frames: int, max_frames: int,
              max_persons: int) -> VideoSpec:
  total = int(rng.integers(min_frames, max_frames + 1))
  motion = CLASSES[label].motion
  persons = [motion]
  if max_persons > 1 and rng.uniform() < TWO_PERSON_PROB:
    idle = tuple((FROZEN, 0.0) for _ in GROUPS)
    persons.append(motion if rng.uniform() < SECOND_SAME_PROB else idle)
  return VideoSpec(label, total, tuple(persons))


def generate_video(seed_or_rng, label: int, *, layout: str = "coco2d", min_frames: int = 48,
                   max_frames: int = 100, max_persons: int = 2) -> tuple[dict, VideoSpec]:
  """One video as an entry of MMAction2's pose annotation format (without ``frame_dir``):
  ``keypoint`` float32 (M, T, V, C), ``keypoint_score`` (M, T, V) for 'coco2d',
  ``total_frames``, ``img_shape``, ``original_shape``, ``label``; and what was drawn. The same
  seed and arguments give the same video."""
  if layout not in ("coco2d", "ntu3d"):
    raise KeyError(f"Unknown layout {layout!r}; layouts: coco2d, ntu3d")
  rng = np.random.default_rng(seed_or_rng)
  spec = draw_spec(rng, label, min_frames, max_frames, max_persons)
  x_actor, side = rng.uniform(-0.35, 0.35), rng.choice([-1.0, 1.0])
  keypoints, scores = [], []
  for p, motion in enumerate(spec.persons):
    height = rng.uniform(1.5, 1.9)
    joints, head_axes = body_joints(group_angles(rng, motion, spec.total_frames), height)
    points = joints if layout == "ntu3d" else _coco(joints, head_axes, height)
    x0 = x_actor if p == 0 else x_actor + side * rng.uniform(0.8, 1.1)
    cam = _place(rng, points, x0)
    if layout == "ntu3d":
      keypoints.append(cam + rng.normal(0, JOINT_NOISE_M, size=cam.shape))
      continue
    score, jitter = _scores(rng, spec.total_frames, points.shape[1])
    noise = rng.normal(size=cam.shape[:2] + (2,)) * (PIXEL_NOISE + jitter)[..., None]
    keypoints.append(project(cam) + noise)
    scores.append(score)
  annotation = {"keypoint": np.stack(keypoints).astype(np.float32),
                "total_frames": spec.total_frames, "img_shape": IMG_SHAPE,
                "original_shape": IMG_SHAPE, "label": int(label)}
  if layout == "coco2d":
    annotation["keypoint_score"] = np.stack(scores).astype(np.float32)
  return annotation, spec
