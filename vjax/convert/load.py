"""A config's model with the variables of any checkpoint: what ``vjax.inference`` and the
checkpoint-conversion command share.

The config is a vjax config (``path.py[:arg]`` or a ConfigDict) or an MMAction2 config file;
the checkpoint an MMAction2 ``.pth``/``.npz``/``.safetensors`` state dict (converted by name)
or a vjax checkpoint directory. The config's task (``vjax.tasks``) builds the model and its
example inputs, so every family loads the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import types
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vjax import tasks
from vjax.convert.mmaction2_checkpoint import (Report, convert_state_dict, load_state_dict,
                                               save_variables)
from vjax.convert.mmaction2_config import load_any_config


@dataclasses.dataclass
class Loaded:
  """``config`` (ConfigDict), ``task``, ``model`` (Flax module), ``variables``
  (``{'params', 'batch_stats'}``) and ``report`` (what a state-dict import skipped)."""

  config: Any
  task: tasks.Task
  model: nn.Module
  variables: dict
  report: Report


def _vjax_checkpoint(path: str, abstract) -> dict:
  from vjax.train.checkpoint import load_params  # pylint: disable=g-import-not-at-top
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])

  def place(tree):
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device), tree)

  target = types.SimpleNamespace(params=place(abstract["params"]),
                                 batch_stats=place(abstract.get("batch_stats", {})))
  params, batch_stats = load_params(path, target)
  return {"params": params, "batch_stats": batch_stats}


def load_model(config, checkpoint: str | None = None, *, strict: bool = True,
               allow_pickle: bool = False, inputs: tuple | None = None) -> Loaded:
  """Builds the config's model with the checkpoint's weights (random ones without).

  ``strict=False`` keeps the initial values of variables the checkpoint does not fill and
  lists what it skipped in ``.report``. ``inputs`` (positional model inputs, a batch of one)
  override the task's stand-in inputs that shape initialisation.
  """
  config = load_any_config(config)
  task = tasks.build_task(config)
  model = task.build_model()
  inputs = tuple(jnp.asarray(x, jnp.float32) for x in (inputs or task.init_inputs()))

  def init():
    key = jax.random.key(config.get("seed", 0))
    return task.init_variables(model, {"params": key, "dropout": key}, inputs)

  report = Report()
  if checkpoint is None:
    variables = nn.unbox(jax.jit(init)())
  else:
    abstract = nn.unbox(jax.eval_shape(init))
    if os.path.isdir(checkpoint):
      variables = _vjax_checkpoint(checkpoint, abstract)
    else:
      state = load_state_dict(checkpoint, allow_pickle=allow_pickle)
      variables, report = convert_state_dict(state, abstract, strict=strict)
      check = getattr(model, "check_state_dict", None)
      if check is not None:  # what only the model's config can check (BMN's sample_mask)
        check(state)
      if report.missing or report.mismatched:
        initial = nn.unbox(jax.jit(init)())
        variables = jax.tree.map(
            lambda v, i: i if isinstance(v, jax.ShapeDtypeStruct) else v, variables, initial)
      variables = jax.tree.map(jnp.asarray, variables)
  return Loaded(config, task, model, dict(variables), report)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(
      prog="python -m vjax.convert.mmaction2_checkpoint",
      description="Converts an MMAction2 checkpoint into a vjax load_from checkpoint.")
  parser.add_argument("--config", required=True,
                      help="vjax config file[:arg], or an MMAction2 config .py")
  parser.add_argument("--checkpoint", required=True, help="MMAction2 .pth/.pt/.npz/.safetensors")
  parser.add_argument("--out", required=True, help="directory to write; use it as load_from")
  parser.add_argument("--no-strict", dest="strict", action="store_false",
                      help="load what maps; keep initial values for the rest and list them")
  parser.add_argument("--allow-pickle", action="store_true",
                      help="let torch.load unpickle non-tensor objects (trusted files only)")
  return parser.parse_args(argv)


def convert_main(argv=None) -> str:
  """``python -m vjax.convert.mmaction2_checkpoint``: converts and writes the checkpoint;
  returns the directory to use as ``load_from``."""
  args = parse_args(argv)
  loaded = load_model(args.config, args.checkpoint, strict=args.strict,
                      allow_pickle=args.allow_pickle)
  report = loaded.report
  for title, items in (("unexpected torch keys (skipped)", report.unexpected),
                       ("vjax variables left at their initial values", report.missing),
                       ("shape mismatches (skipped)", report.mismatched)):
    if items:
      print(f"{title}: {len(items)}\n  " + "\n  ".join(items))
  out = save_variables(loaded.variables, args.out)
  print(f"Wrote {report.loaded} arrays from {args.checkpoint} to {out}; use it with "
        f"--config.load_from={out}")
  return out


def run_cli(argv) -> None:
  try:
    convert_main(argv)
  except (FileNotFoundError, FileExistsError, ImportError, KeyError, ValueError) as e:
    sys.exit(f"error: {e}")
