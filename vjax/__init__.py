"""vjax: a JAX/Flax video-understanding toolbox, MMAction2-compatible at the edges."""

__version__ = "0.1.0"
