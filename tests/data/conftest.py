"""Shared fixtures: the `tiny` synthetic dataset is built once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> str:
  from vjax.data import prepare_synthetic  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  prepare_synthetic(data_dir, "tiny")
  return data_dir
