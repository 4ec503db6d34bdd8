"""BSN (Lin et al., 2018): MMAction2's temporal evaluation (TEM) and proposal evaluation (PEM)
networks, with its argument names and defaults.

TEM scores every snippet as inside an action, a start and an end; BSN's proposal generation
(``vjax.localization.pgm``) turns those into candidate proposals and their boundary-sensitive
(BSP) features, which PEM scores. Both keep PyTorch's default initialisation, as MMAction2
does, and its output scalings (``conv*_ratio``, ``fc*_ratio``) inside the activations.
"""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv
from vjax.models.layers.torch_init import torch_bias_init, torch_kernel_init


@MODELS.register
class TEM(nn.Module):
  """``(N, T, tem_feat_dim)`` features -> ``(N, T, output_dim)`` probabilities: action, start,
  end (``sigmoid(conv3_ratio * conv3(...))``).

  ``temporal_dim``, ``boundary_ratio`` and ``tem_match_threshold`` define the training labels
  and loss (``labels.tem_labels``, ``losses.tem_loss_terms``, with ``loss_weight``);
  ``loss_cls`` (None: ``dict(type='BinaryLogisticRegressionLoss')``, the only one) is accepted.
  """
  temporal_dim: int
  boundary_ratio: float
  tem_feat_dim: int
  tem_hidden_dim: int
  tem_match_threshold: float
  loss_cls: Mapping[str, Any] | None = None
  loss_weight: float = 2
  output_dim: int = 3
  conv1_ratio: float = 1
  conv2_ratio: float = 1
  conv3_ratio: float = 0.01
  norm_groups: int | None = None  # accepted from build_model; TEM has no norm layers
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    if x.ndim != 3 or x.shape[-1] != self.tem_feat_dim:
      raise ValueError(f"TEM expects (N, T, tem_feat_dim={self.tem_feat_dim}) features, "
                       f"got {x.shape}")
    hidden = self.tem_hidden_dim

    def conv(features, k, fan_in, name):
      return Conv(features, (k,), padding=((k // 2, k // 2),), kernel_init=torch_kernel_init,
                  bias_init=torch_bias_init(fan_in), dtype=self.dtype, name=name)

    x = x.astype(self.dtype)
    x = nn.relu(self.conv1_ratio * conv(hidden, 3, self.tem_feat_dim * 3, "conv1")(x))
    x = nn.relu(self.conv2_ratio * conv(hidden, 3, hidden * 3, "conv2")(x))
    x = conv(self.output_dim, 1, hidden, "conv3")(x)
    return nn.sigmoid(self.conv3_ratio * x.astype(jnp.float32))


@MODELS.register
class PEM(nn.Module):
  """``(B, P, pem_feat_dim)`` BSP features of P proposals per video -> ``(B * P, output_dim)``
  IoU scores (``sigmoid(fc2_ratio * fc2(relu(fc1_ratio * fc1(x))))``), videos one after
  another as MMAction2 concatenates them.

  The sampling arguments (``pem_u_ratio_*``, ``pem_*_temporal_iou_threshold``) are read by
  ``losses.pem_loss``, the post-processing ones by the task's proposal building.
  """
  pem_feat_dim: int
  pem_hidden_dim: int
  pem_u_ratio_m: float
  pem_u_ratio_l: float
  pem_high_temporal_iou_threshold: float
  pem_low_temporal_iou_threshold: float
  soft_nms_alpha: float
  soft_nms_low_threshold: float
  soft_nms_high_threshold: float
  post_process_top_k: int
  feature_extraction_interval: int = 16
  fc1_ratio: float = 0.1
  fc2_ratio: float = 0.1
  output_dim: int = 1
  norm_groups: int | None = None  # accepted from build_model; PEM has no norm layers
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    if x.shape[-1] != self.pem_feat_dim:
      raise ValueError(f"PEM expects (B, P, pem_feat_dim={self.pem_feat_dim}) BSP features, "
                       f"got {x.shape}")
    x = x.reshape((-1, self.pem_feat_dim)).astype(self.dtype)
    x = nn.Dense(self.pem_hidden_dim, kernel_init=torch_kernel_init,
                 bias_init=torch_bias_init(self.pem_feat_dim), dtype=self.dtype, name="fc1")(x)
    x = nn.relu(self.fc1_ratio * x)
    x = nn.Dense(self.output_dim, kernel_init=torch_kernel_init,
                 bias_init=torch_bias_init(self.pem_hidden_dim), dtype=self.dtype, name="fc2")(x)
    return nn.sigmoid(self.fc2_ratio * x.astype(jnp.float32))
