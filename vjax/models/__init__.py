"""Models: import registers every type in ``MODELS`` under its MMAction2 name."""

from vjax.models import backbones, heads, localizers, necks, recognizers, skeleton
from vjax.models.builder import MODELS, build_model
from vjax.models.recognizers import average_clips
