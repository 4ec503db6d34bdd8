"""Temporal action localizers (MMAction2's ``models/localizers``)."""

from vjax.models.localizers import ssn  # noqa: F401  (registers SSN and SSNHead)
