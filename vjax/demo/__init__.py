"""Demos: ``python -m vjax.demo.<name>`` turns a video into a picture of what a model sees."""
