"""Necks between backbone and head, registered under their MMAction2 type names."""

from vjax.models.necks.tpn import TPN
