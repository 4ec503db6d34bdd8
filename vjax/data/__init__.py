"""Data side of vjax: sources (TFDS ArrayRecord, MMAction2 lists), pipeline ops, grain loaders."""

from vjax.data.pipeline import PIPELINES, Compose
from vjax.data.sources import (DATASETS, AudioFeatureDataset, RawframeDataset, TFDSDataset,
                               VideoDataset, prepare_synthetic)
from vjax.data.loader import SampleError, make_eval_iterator, make_train_iterator
