"""STGCNHead: pooling over frames and joints, mean over persons, a 1x1-conv classifier."""

from __future__ import annotations

from typing import Any, Mapping

import flax.linen as nn
import jax.numpy as jnp

from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv


@MODELS.register
class STGCNHead(nn.Module):
  """The head of MMAction2's skeleton GCNs (STGCN, AGCN).

  Backbone rows are (clip, person) pairs: ``num_person`` consecutive rows are one clip, their
  pooled features are averaged, as MMAction2's ``view(N // num_person, num_person, ...)``.
  The classifier ``fc`` is a 1x1 Conv2d there, so its kernel is (1, 1, C, K) here (no
  dropout). ``loss_cls`` is read by the shared loss code.
  """

  num_classes: int
  in_channels: int
  loss_cls: Mapping[str, Any] | None = None  # None: CrossEntropyLoss
  spatial_type: str = "avg"
  num_person: int = 2
  init_std: float = 0.01
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    """x: (N * num_person, T, V, C) -> (N, num_classes)."""
    if self.spatial_type == "avg":
      feat = x.mean(axis=(1, 2))
    elif self.spatial_type == "max":
      feat = x.max(axis=(1, 2))
    else:
      raise ValueError(f"STGCNHead spatial_type must be 'avg' or 'max', got "
                       f"{self.spatial_type!r}")
    rows, c = feat.shape
    if c != self.in_channels:
      raise ValueError(f"STGCNHead in_channels={self.in_channels} but the backbone gives {c}")
    if rows % self.num_person:
      raise ValueError(f"STGCNHead num_person={self.num_person} does not divide the "
                       f"{rows} backbone rows (clips x persons)")
    feat = feat.reshape(rows // self.num_person, self.num_person, c).mean(axis=1)
    fc = Conv(self.num_classes, (1, 1), dtype=self.dtype,
              kernel_init=nn.with_logical_partitioning(nn.initializers.normal(self.init_std),
                                                       (None, None, "embed", "classes")),
              bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("classes",)),
              name="fc")
    return fc(feat[:, None, None, :])[:, 0, 0].astype(jnp.float32)
