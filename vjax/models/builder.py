"""The model registry: every backbone, neck, head and recognizer under its MMAction2 type name."""

from __future__ import annotations

from vjax.registry import Registry

MODELS = Registry("model")


def build_model(cfg, **extra):
  """Builds a model (usually a recognizer) from an MMAction2-style ``dict(type=...)``."""
  import vjax.models  # noqa: F401  (registers every model type)
  return MODELS.build(cfg, **extra)
