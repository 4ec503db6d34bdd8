"""The ``kinetics600`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.kinetics400.kinetics400_dataset_builder import Kinetics400


class Kinetics600(Kinetics400):
  """Kinetics-600: 600 human action classes, 10 s YouTube clips (DeepMind)."""

  DATASET = "kinetics600"
