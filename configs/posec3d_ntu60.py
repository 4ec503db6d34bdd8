"""PoseC3D on NTU RGB+D 60 (cross-subject, HRNet 2D keypoints), as MMAction2's
slowonly_r50_u48_240e_ntu60_xsub_keypoint (``get_config('keypoint')``, the default: one
heatmap per keypoint) and ..._limb (``'limb'``: one heatmap per limb), with
``posec3d_gym.py``'s FineGYM recipe alike.

A SlowOnly R50 (3 stages from 32 channels) over 48-frame 56x56 heatmap volumes, SGD lr 0.2 with
cosine decay over 240 epochs; test-time 10 clips with flip-averaged (``double``) heatmaps.
``synthetic`` trains a narrower SlowOnly on ``vjax_synthetic_skeleton``'s 2D layout on a CPU.
"""

import ml_collections

from vjax.config import posec3d_recipe


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return posec3d_recipe(arg, 60, "ntu60_xsub")
