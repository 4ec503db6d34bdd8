"""The train state: everything a step reads and writes, as one sharded pytree."""

from __future__ import annotations

from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from vjax.train import sharding

# Parameters placed by their logical annotations alone (replicated under the default rules).
DEFAULT_STRATEGY = ((".*", "logical"),)


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  rng: jax.Array  # raw uint32 key data, so checkpoints need no key type
  # fp16's LossScaleState (vjax.train.precision); None without a loss scale.
  loss_scale: Any = None


def create_state(model: nn.Module, tx: optax.GradientTransformation, mesh, sample_input,
                 seed: int, rules=(), strategy=DEFAULT_STRATEGY, loss_scaler=None):
  """Initialises parameters directly into their shardings (no host-side full copy).

  ``sample_input``: the model's example input, or a tuple of its positional inputs (a
  task's ``init_inputs``). ``rules``: logical axis -> mesh axis; ``strategy``: the
  ``param_sharding`` rules (``vjax.train.sharding``); ``loss_scaler``: fp16's
  ``precision.LossScaler``, whose state the train state then carries. Returns the state and
  its shardings (reused as the step's in/out shardings).
  """
  inputs = sample_input if isinstance(sample_input, tuple) else (sample_input,)

  def init_boxed(key):
    init_key, state_key = jax.random.split(key)
    variables = model.init({"params": init_key, "dropout": init_key}, *inputs, train=False)
    params = variables["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params),
                      rng=jax.random.key_data(state_key),
                      loss_scale=loss_scaler.init() if loss_scaler is not None else None)

  key = jax.random.key(seed)
  boxed = jax.eval_shape(init_boxed, key)
  shardings = sharding.state_shardings(mesh, nn.unbox(boxed), nn.get_partition_spec(boxed.params),
                                       strategy, rules)
  init = jax.jit(lambda k: nn.unbox(init_boxed(k)), out_shardings=shardings)
  with mesh:
    state = init(key)
  return state, shardings


def abstract_state(state_or_shapes, shardings):
  """ShapeDtypeStructs with shardings: the target orbax restores into."""
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                      state_or_shapes, shardings)
