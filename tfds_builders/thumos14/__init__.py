"""``thumos14``: THUMOS'14 untrimmed videos with temporal action annotations and MMAction2's TAG
proposals (SSN); ``synthetic`` writes a small look-alike in MMAction2's layout."""

from tfds_builders.thumos14.thumos14_dataset_builder import Thumos14, results_from_record  # noqa: F401

UNDECODED = ("video",)
