"""TPNHead: TSNHead over TPN's output, plus MMAction2's fully-convolutional test mode."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.heads.base import avg_consensus, classifier


@MODELS.register
class TPNHead(nn.Module):
  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] | None = None
  spatial_type: str = "avg"
  consensus: Mapping[str, Any] | None = None
  dropout_ratio: float = 0.4
  init_std: float = 0.01
  multi_class: bool = False
  label_smooth_eps: float = 0.0
  topk: Sequence[int] | int = (1, 5)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, num_segs: int | None = None, train: bool = False,
               fcn_test: bool = False):
    """x: (N * num_segs, [T,] H, W, C) with ``num_segs``, or (N, T, H, W, C) without.

    ``fcn_test``: x is (B, T, H, W, C); ``fc_cls`` runs as a 1x1x1 conv (MMAction2 copies
    its weights into one) after the 3D average pool ('avg'), and each of the B rows comes
    back flattened in PyTorch's (K, T, H, W) order.
    """
    def head(y):
      return classifier(y, self.num_classes, self.init_std,
                        0.0 if fcn_test else self.dropout_ratio, train, self.dtype)

    if fcn_test:
      if self.spatial_type == "avg":
        x = x.mean(axis=(1, 2, 3), keepdims=True)
      scores = head(x)
      return jnp.moveaxis(scores, -1, 1).reshape((x.shape[0], -1))
    if num_segs is None:
      if self.spatial_type != "avg":
        raise ValueError("TPNHead without num_segs needs spatial_type='avg'")
      return head(x.mean(axis=tuple(range(1, x.ndim - 1))))
    x = x.mean(axis=(-3, -2))  # the (1, H, W) average pool: (N * S, [T,] C)
    x = avg_consensus(x.reshape((-1, num_segs) + x.shape[1:]), self.consensus)
    return head(jnp.moveaxis(x, -1, 1).reshape((x.shape[0], -1)))
