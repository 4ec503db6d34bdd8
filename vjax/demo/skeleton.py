"""Skeleton-based action recognition on a video, drawn onto it (MMAction2's
demo/demo_skeleton.py without its mmdet/mmpose downloads).

    python -m vjax.demo.skeleton VIDEO OUT.mp4 --config configs/stgcn_ntu60.py \\
        --checkpoint stgcn.pth --poses POSES.pkl [--label-map labels.txt]
    python -m vjax.demo.skeleton VIDEO OUT.mp4 --config ... --pose-estimator mypkg.pose:estimate

Poses come from a file (one MMAction2 pose annotation: a dict with ``keypoint`` (M, T, V, C),
``keypoint_score`` (M, T, V) for 2D, as ``PoseDataset`` records; read with vjax's restricted
unpickler) or from a pose-estimator callable ``estimate(frames) -> that dict`` given as
``module:function`` (the frames are RGB uint8 (H, W, 3) arrays; nothing is downloaded). The
recognizer (GCN or PoseC3D, any vjax or MMAction2 skeleton config) classifies the whole clip;
every frame gets the people's skeletons and the top prediction written on it.
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Callable, Sequence

import cv2
import numpy as np

from vjax.data import media
from vjax.inference import inference_recognizer, init_recognizer
from vjax.models.skeleton.graph import Graph

# The graph layout whose bones are drawn, by keypoints per person.
LAYOUT_BY_KEYPOINTS = {17: "coco", 25: "ntu-rgb+d", 18: "openpose-18"}
COLOURS = [(255, 80, 80), (80, 200, 255), (120, 255, 120), (255, 200, 60)]


def load_estimator(spec: str) -> Callable[[Sequence[np.ndarray]], dict]:
  """``module:function`` -> the callable."""
  module, sep, name = spec.partition(":")
  if not sep:
    raise ValueError(f"--pose-estimator {spec!r}: expected module:function")
  return getattr(importlib.import_module(module), name)


def load_poses(path: str) -> dict:
  """One video's pose annotation from a ``.pkl`` (a dict, or a list holding one)."""
  from vjax.data import safe_pickle  # pylint: disable=g-import-not-at-top
  poses = safe_pickle.load(path)
  if isinstance(poses, (list, tuple)) and len(poses) == 1:
    poses = poses[0]
  if not isinstance(poses, dict) or "keypoint" not in poses:
    raise ValueError(f"{path}: expected one pose annotation (a dict with 'keypoint' "
                     "(M, T, V, C)), as MMAction2's pose .pkl records")
  return poses


def as_annotation(poses: dict, frames: Sequence[np.ndarray]) -> dict:
  """The pose dict completed with the fields the pipelines read."""
  keypoint = np.asarray(poses["keypoint"], np.float32)
  if keypoint.ndim != 4:
    raise ValueError(f"poses: keypoint must be (M, T, V, C), got {keypoint.shape}")
  h, w = frames[0].shape[:2]
  out = dict(poses, keypoint=keypoint, total_frames=keypoint.shape[1], img_shape=(h, w),
             original_shape=(h, w), label=-1, start_index=0, modality="Pose")
  out.setdefault("frame_dir", "demo")
  return out


def bones(num_keypoints: int) -> list[tuple[int, int]]:
  """The joint pairs drawn for a pose of ``num_keypoints`` (its graph layout's bones)."""
  layout = LAYOUT_BY_KEYPOINTS.get(num_keypoints)
  return list(Graph(layout).neighbor_link) if layout else []


def draw(frame: np.ndarray, keypoints: np.ndarray, scores: np.ndarray | None, text: str,
         edges: Sequence[tuple[int, int]], score_thr: float = 0.3) -> np.ndarray:
  """Skeletons (people x (V, 2) pixels, joined along ``edges``) and a caption on a copy of
  ``frame``."""
  out = np.ascontiguousarray(frame).copy()
  for m, person in enumerate(keypoints):
    colour = COLOURS[m % len(COLOURS)]
    ok = np.ones(len(person), bool) if scores is None else scores[m] > score_thr
    pts = [tuple(int(round(v)) for v in p[:2]) for p in person]
    for a, b in edges:
      if ok[a] and ok[b]:
        cv2.line(out, pts[a], pts[b], colour, 2, cv2.LINE_AA)
    for p, good in zip(pts, ok):
      if good:
        cv2.circle(out, p, 3, colour, -1, cv2.LINE_AA)
  scale = max(out.shape[0] / 480, 0.4)
  cv2.putText(out, text, (10, int(30 * scale)), cv2.FONT_HERSHEY_DUPLEX, 0.8 * scale,
              (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
  return out


def run(video: str, out: str, config, checkpoint: str | None = None, *, poses: dict | None = None,
        estimator: Callable | None = None, labels: Sequence[str] | None = None,
        ) -> list[tuple[int, float]]:
  """Classifies ``video``'s poses and writes the annotated video; returns the top-5."""
  frames = list(media.iter_frames(video))
  if not frames:
    raise ValueError(f"{video}: no frames decoded")
  if poses is None:
    if estimator is None:
      raise ValueError("give poses (--poses FILE.pkl) or a pose estimator "
                       "(--pose-estimator module:function)")
    poses = estimator(frames)
  annotation = as_annotation(poses, frames)
  if annotation["total_frames"] != len(frames):
    raise ValueError(f"the poses cover {annotation['total_frames']} frames but {video} has "
                     f"{len(frames)}")
  recognizer = init_recognizer(config, checkpoint)
  top5 = inference_recognizer(recognizer, annotation)
  label, score = top5[0]
  name = labels[label] if labels and label < len(labels) else f"class {label}"
  keypoint = annotation["keypoint"]
  scores = annotation.get("keypoint_score")
  fps = media.probe(video).fps
  edges = bones(keypoint.shape[2])
  drawn = (draw(f, keypoint[:, t], None if scores is None else scores[:, t],
                f"{name}: {score:.2f}", edges) for t, f in enumerate(frames))
  media.frames_to_video(drawn, out, fps)
  return top5


def main(argv=None) -> list[tuple[int, float]]:
  parser = argparse.ArgumentParser(description="Skeleton-based action recognition demo")
  parser.add_argument("video")
  parser.add_argument("out", help="annotated video to write (.mp4)")
  parser.add_argument("--config", required=True, help="vjax config (path.py[:arg]) or "
                      "MMAction2 skeleton config")
  parser.add_argument("--checkpoint", default=None, help="MMAction2 .pth or vjax checkpoint")
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--poses", help="the video's pose annotation (.pkl)")
  source.add_argument("--pose-estimator", help="module:function(frames) -> pose dict")
  parser.add_argument("--label-map", help="class names, one per line")
  args = parser.parse_args(argv)
  labels = None
  if args.label_map:
    with open(args.label_map) as f:
      labels = [line.strip() for line in f]
  top5 = run(args.video, args.out, args.config, args.checkpoint,
             poses=load_poses(args.poses) if args.poses else None,
             estimator=load_estimator(args.pose_estimator) if args.pose_estimator else None,
             labels=labels)
  for label, score in top5:
    print(f"{labels[label] if labels and label < len(labels) else label}: {score:.4f}")
  print(f"wrote {os.path.abspath(args.out)}")
  return top5


if __name__ == "__main__":
  main()
