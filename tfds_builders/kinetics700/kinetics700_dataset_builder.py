"""The ``kinetics700`` TFDS builder (the class says what it holds)."""

from __future__ import annotations

from tfds_builders.kinetics400.kinetics400_dataset_builder import Kinetics400


class Kinetics700(Kinetics400):
  """Kinetics-700: 700 human action classes, 10 s YouTube clips (DeepMind)."""

  DATASET = "kinetics700"
