"""PoseC3D on FineGYM (99 element classes, HRNet 2D keypoints), as MMAction2's
slowonly_r50_u48_240e_gym_keypoint (``get_config('keypoint')``, the default) and ..._limb
(``'limb'``); the recipe is ``configs/posec3d_ntu60.py``'s (``vjax.config.posec3d_recipe``).
"""

import ml_collections

from vjax.config import posec3d_recipe


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  return posec3d_recipe(arg, 99, "gym")
