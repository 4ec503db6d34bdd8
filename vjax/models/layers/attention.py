"""Multi-head self-attention with ``torch.nn.MultiheadAttention``'s parameters and arithmetic.

MMAction2's transformers (TimeSformer) hold torch's module under the name ``attn``: a fused
query/key/value projection ``in_proj_weight`` (3E, E) + ``in_proj_bias`` and an ``out_proj``
Linear. Here the fused projection is one Dense ``in_proj`` with kernel (E, 3E), whose columns
are q, k, v in that order and each head's ``E / num_heads`` columns contiguous, so a torch
checkpoint maps by a transpose (the importer's rule renames ``in_proj.weight`` to
``in_proj_weight``).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax.models.layers.constrain import constrain
from vjax.models.layers.torch_init import torch_kernel_init

# torch initialises in_proj_weight with xavier_uniform over its (3E, E) shape: fan_in E,
# fan_out 3E; flax's "fan_avg" of the (E, 3E) kernel is the same average.
xavier_uniform = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


class MultiheadAttention(nn.Module):
  """Self-attention over axis 1 of a batch-first (B, L, E) input; returns (B, L, E).

  ``attn_drop`` drops attention weights in training, as torch's ``dropout`` argument.
  """

  embed_dims: int
  num_heads: int
  attn_drop: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False):
    e, h = self.embed_dims, self.num_heads
    if e % h:
      raise ValueError(f"embed_dims={e} must be divisible by num_heads={h}")
    if x.shape[-1] != e:
      raise ValueError(f"attention input has {x.shape[-1]} channels, embed_dims is {e}")
    b, n, _ = x.shape
    qkv = nn.Dense(3 * e, dtype=self.dtype,
                   kernel_init=nn.with_logical_partitioning(xavier_uniform, ("embed", "qkv")),
                   bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("qkv",)),
                   name="in_proj")(x)
    # Tensor parallelism: each device takes its share of the heads (identity outside a trainer).
    q, k, v = (constrain(a.reshape(b, n, h, e // h), ("batch", None, "heads", None))
               for a in jnp.split(qkv, 3, axis=-1))
    logits = jnp.einsum("bqhd,bkhd->bhqk", q * (e // h) ** -0.5, k)
    weights = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(v.dtype)
    if self.attn_drop:
      weights = nn.Dropout(self.attn_drop, deterministic=not train)(weights)
    out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, n, e)
    # out_proj is a torch Linear: kaiming_uniform(a=sqrt(5)) weight, zero bias (torch zeroes it).
    return nn.Dense(e, dtype=self.dtype,
                    kernel_init=nn.with_logical_partitioning(torch_kernel_init,
                                                             ("heads", "embed")),
                    bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("embed",)),
                    name="out_proj")(out)
