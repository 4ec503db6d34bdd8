"""Evaluation metrics (pure numpy) under MMAction2's names: ``from vjax.evaluation import ...``.

metrics.py: recognition (top-k, mean class accuracy, mAP, ...); localization.py: temporal
proposals (AR@AN, ActivityNetDataset.evaluate's keys) and detection (ActivityNet mAP, proposals
labelled by video-level classification); ava.py: AVA frame mAP and result CSVs.
"""

from __future__ import annotations

from vjax.evaluation.ava import ava_eval, read_labelmap, results2csv
from vjax.evaluation.localization import (ActivityNetLocalization, assign_top1_labels,
                                          average_precision_at_temporal_iou,
                                          average_recall_at_avg_proposals, detection_map,
                                          evaluate_proposals, interpolated_precision_recall,
                                          pairwise_temporal_iou)
from vjax.evaluation.metrics import (confusion_matrix, evaluate_recognition, get_weighted_score,
                                     hvu_mean_average_precision, mean_average_precision,
                                     mean_class_accuracy, mmit_mean_average_precision, softmax,
                                     top_k_accuracy, top_k_classes)

__all__ = [
    'ActivityNetLocalization', 'assign_top1_labels', 'average_precision_at_temporal_iou',
    'average_recall_at_avg_proposals', 'ava_eval', 'confusion_matrix', 'detection_map',
    'evaluate_proposals', 'evaluate_recognition',
    'get_weighted_score', 'hvu_mean_average_precision', 'interpolated_precision_recall',
    'mean_average_precision', 'mean_class_accuracy', 'mmit_mean_average_precision',
    'pairwise_temporal_iou', 'read_labelmap', 'results2csv', 'softmax', 'top_k_accuracy',
    'top_k_classes'
]
