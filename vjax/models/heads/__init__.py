"""Classification heads."""

from vjax.models.heads.slowfast_head import SlowFastHead
from vjax.models.heads.tsn_head import TSNHead
