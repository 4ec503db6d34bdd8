"""Evaluation metrics (pure numpy) under MMAction2's names: ``from vjax.evaluation import ...``."""

from __future__ import annotations

from vjax.evaluation.metrics import (confusion_matrix, evaluate_recognition, get_weighted_score,
                                     mean_average_precision, mean_class_accuracy,
                                     mmit_mean_average_precision, softmax, top_k_accuracy,
                                     top_k_classes)

__all__ = [
    'confusion_matrix', 'evaluate_recognition', 'get_weighted_score', 'mean_average_precision',
    'mean_class_accuracy', 'mmit_mean_average_precision', 'softmax', 'top_k_accuracy',
    'top_k_classes'
]
