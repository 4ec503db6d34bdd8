"""Skeleton-based recognition with graph convolutions (MMAction2's ``SkeletonGCN``: ST-GCN,
2s-AGCN, ST-GCN++) on the recognition task's losses, metrics and predictors.

What differs from video recognition is the input: ``keypoint`` as ``FormatGCNInput`` leaves it,
MMAction2's per-sample ``(C, T, V, M)`` (people padded with zeros to ``num_person``), moved to
channels-last ``(N, M, T, V, C)`` on the device. PoseC3D needs no task of its own: it is a
``Recognizer3D`` over heatmap volumes that the pose pipeline draws (``GeneratePoseTarget``).
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np

from vjax.data import video_inputs
from vjax.data.pipeline import Compose
from vjax.tasks.base import zeros_like_sample
from vjax.tasks.recognition import Recognition

# Layouts whose keypoints are 2D image coordinates with a confidence score as the last input
# channel (FormatGCNInput appends keypoint_score); the others are 3D joints.
SCORED_LAYOUTS = ("openpose-18", "openpose-25", "coco")


def gcn_input(keypoint):
  """``(N, C, T, V, M)`` -> float32 channels-last ``(N, M, T, V, C)``."""
  return jnp.transpose(keypoint.astype(jnp.float32), (0, 4, 2, 3, 1))


class SkeletonRecognition(Recognition):
  """``SkeletonGCN`` recognizers: cross-entropy on the head's scores, top-k metrics."""

  name = "skeleton"

  @classmethod
  def accepts(cls, model_cfg: Mapping) -> bool:
    return model_cfg.get("type") == "SkeletonGCN"

  @property
  def input_keys(self) -> tuple[str, ...]:
    return ("keypoint",)

  def preprocess(self, batch):
    batch = dict(batch)
    batch["keypoint"] = gcn_input(batch["keypoint"])
    return batch

  def init_inputs(self, sample=None) -> tuple:
    (x,) = zeros_like_sample(self.stand_in_sample() if sample is None else sample,
                             self.input_keys)
    return (np.transpose(x, (0, 4, 2, 3, 1)),)

  def stand_in_sample(self) -> dict:
    """The val (else test) pipeline on a still pose of the backbone's layout: 2D keypoints
    with scores for ``coco``/``openpose``, 3D joints for the NTU layouts."""
    split = video_inputs.split_config(self.config, ("val", "test"))
    backbone = self.model_cfg["backbone"]
    layout = (backbone.get("graph_cfg") or {}).get("layout", "openpose-18")
    scored = layout in SCORED_LAYOUTS
    channels = backbone.get("in_channels", 3) - (1 if scored else 0)
    pose = video_inputs.stand_in_pose(video_inputs.LAYOUT_KEYPOINTS[layout], channels, scored)
    return Compose(split.get("pipeline") or [])(pose, np.random.default_rng(0))
