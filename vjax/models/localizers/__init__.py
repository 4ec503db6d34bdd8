"""Temporal action localizers (MMAction2's BMN, BSN's TEM and PEM, SSN), their training labels
and losses; importing registers the networks (and SSNHead) in ``MODELS``."""

from vjax.models.localizers import bmn, bsn, labels, losses, ssn
from vjax.models.localizers.bmn import BMN, bm_mask, check_sample_mask, interp1d_mask
from vjax.models.localizers.bsn import PEM, TEM
