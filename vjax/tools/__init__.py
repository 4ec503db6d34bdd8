"""Command-line tools, run as ``python -m vjax.tools.<name>``."""
