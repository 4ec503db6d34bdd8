"""Temporal action localization utilities (pure numpy), as MMAction2 0.24.1's
``mmaction.localization`` and its localizers' post-processing.

proposals.py: temporal IoU / IoP, soft-NMS, BMN / BSN test-time proposal building and
``post_processing``; pgm.py: BSN's proposal generation module (candidate proposals, BSP
features, CSV files); results.py: the proposal result files (``output_config``).
Metrics (AR@AN, ActivityNet detection mAP) are in ``vjax.evaluation.localization``.
"""

from __future__ import annotations

from vjax.localization.pgm import (bsp_features, candidate_proposals, generate_bsp_feature,
                                   generate_candidate_proposals, generate_features,
                                   generate_proposals, load_csv, write_csv)
from vjax.localization.proposals import (bmn_candidate_proposals, pem_proposals,
                                         post_processing, proposal_results, soft_nms,
                                         tem_results, temporal_anchors, temporal_iop,
                                         temporal_iou, video_duration)
from vjax.localization.results import dump_results, load_proposal_file, proposals2json

__all__ = [
    'bmn_candidate_proposals', 'bsp_features', 'candidate_proposals', 'dump_results',
    'generate_bsp_feature', 'generate_candidate_proposals', 'generate_features',
    'generate_proposals', 'load_csv', 'load_proposal_file', 'pem_proposals', 'post_processing',
    'proposal_results', 'proposals2json', 'soft_nms', 'tem_results', 'temporal_anchors',
    'temporal_iop', 'temporal_iou', 'video_duration', 'write_csv'
]
