"""BMN / BSN proposals -> SSN / P-GCN proposal lists (MMAction2's
tools/data/activitynet/convert_proposal_format.py).

    python -m vjax.tools.convert_proposal_format \
        --ann-file data/ActivityNet/anet_anno_val.json \
        --activity-index-file data/ActivityNet/anet_activity_indexes_val.txt \
        --proposal-file results.json \
        --formatted-proposal-file anet_val_formatted_proposal.txt

For every video of the annotation file it writes ``#<index>``, the video id, its frame count,
fps, the ground-truth count and ``label t_start t_end`` lines, the proposal count and one
``label best_iou best_overlap t_start t_end`` line per proposal: the label of the ground truth
with the best IoU (or, when that class is 0 and the best-overlap one differs, of the one
that overlaps the proposal most), ``0 0 0 t_start t_end`` for a proposal touching no ground
truth. Classes are numbered by line of the activity index file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping, Sequence, TextIO

import numpy as np

from vjax.evaluation.localization import pairwise_temporal_iou
from vjax.localization.pgm import load_video_infos
from vjax.localization.results import load_proposal_file


def read_activity_index(path: str) -> dict[str, int]:
  """Class name (a stripped line) -> its line number."""
  index = {}
  with open(path) as f:
    for i, line in enumerate(f.readlines()):
      index[line.strip()] = i
  return index


def import_ground_truth(video_infos: Sequence[Mapping[str, Any]],
                        activity_index: Mapping[str, int]) -> dict[str, np.ndarray]:
  """``{video id: (n, 3) [t_start, t_end, class]}`` (float64)."""
  ground_truth = {}
  for info in video_infos:
    rows = [[a['segment'][0], a['segment'][1], activity_index[a['label']]]
            for a in info['annotations']]
    ground_truth[info['video_name'][2:]] = np.array(rows, dtype=np.float64).reshape(-1, 3)
  return ground_truth


def import_proposals(result_dict: Mapping[str, Sequence[Mapping[str, Any]]]
                     ) -> tuple[dict[str, np.ndarray], int]:
  """``({video id: (k, 3) [t_start, t_end, score]}, total)`` of a proposal file's results."""
  proposals, total = {}, 0
  for video_id, result in result_dict.items():
    rows = [[p['segment'][0], p['segment'][1], p['score']] for p in result]
    proposals[video_id] = np.array(rows, dtype=np.float64).reshape(-1, 3)
    total += len(rows)
  return proposals, total


def dump_formatted_proposal(video_idx: int, video_id: str, num_frames, fps, gts: np.ndarray,
                            proposals: np.ndarray, tiou: np.ndarray,
                            t_overlap_self: np.ndarray, out: TextIO) -> None:
  """One video's block; ``tiou`` / ``t_overlap_self``: ``(num_gts, num_proposals)``."""
  out.write(f'#{video_idx}\n{video_id}\n{num_frames}\n{fps}\n{gts.shape[0]}\n')
  for gt in gts:
    out.write(f'{int(gt[2])} {gt[0]} {gt[1]}\n')
  out.write(f'{proposals.shape[0]}\n')
  if gts.shape[0] == 0:  # nothing to match: every proposal is background
    for proposal in proposals:
      out.write(f'0 0 0 {proposal[0]} {proposal[1]}\n')
    return
  best_iou, best_iou_index = np.amax(tiou, axis=0), np.argmax(tiou, axis=0)
  best_overlap, best_overlap_index = np.amax(t_overlap_self, axis=0), np.argmax(t_overlap_self,
                                                                                 axis=0)
  for i, proposal in enumerate(proposals):
    label_iou = gts[best_iou_index[i]][2]
    label_overlap = gts[best_overlap_index[i]][2]
    if label_iou != label_overlap:
      label = label_iou if label_iou != 0 else label_overlap
    else:
      label = label_iou
    if best_iou[i] == 0 and best_overlap[i] == 0:
      out.write(f'0 0 0 {proposal[0]} {proposal[1]}\n')
    else:
      out.write(f'{int(label)} {best_iou[i]} {best_overlap[i]} {proposal[0]} {proposal[1]}\n')


def convert(ann_file: str, activity_index_file: str, proposal_file: str,
            formatted_proposal_file: str) -> None:
  activity_index = read_activity_index(activity_index_file)
  video_infos = load_video_infos(ann_file)
  ground_truth = import_ground_truth(video_infos, activity_index)
  proposals, _ = import_proposals(load_proposal_file(proposal_file)['results'])
  with open(formatted_proposal_file, 'w') as out:
    for video_idx, info in enumerate(video_infos):
      video_id = info['video_name'][2:]
      if video_id not in proposals:
        raise KeyError(f'{proposal_file} has no proposals of video {video_id!r}')
      gts, props = ground_truth[video_id], proposals[video_id]
      tiou, t_overlap = pairwise_temporal_iou(props[:, :2], gts[:, :2],
                                              calculate_overlap_self=True)
      dump_formatted_proposal(video_idx, video_id, info['duration_frame'], info['fps'], gts,
                              props, tiou, t_overlap, out)


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description='convert proposal format')
  parser.add_argument('--ann-file', default='data/ActivityNet/anet_anno_val.json',
                      help='name of annotation file')
  parser.add_argument('--activity-index-file',
                      default='data/ActivityNet/anet_activity_indexes_val.txt',
                      help='name of activity index file')
  parser.add_argument('--proposal-file', default='results.json',
                      help='name of proposal file, which is the output of proposal generator '
                      '(BMN)')
  parser.add_argument('--formatted-proposal-file', default='anet_val_formatted_proposal.txt',
                      help='name of formatted proposal file, which is the input of action '
                      'classifier (SSN)')
  return parser.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  convert(args.ann_file, args.activity_index_file, args.proposal_file,
          args.formatted_proposal_file)


if __name__ == '__main__':
  main(sys.argv[1:])
