"""Localization result files: MMAction2 0.24.1's ``output_config`` layouts.

A localizer's test output is one ``{'video_name': 'v_<id>', 'proposal_list': [{'score': s,
'segment': [t_start, t_end]}, ...]}`` per video (BMN, BSN-PEM) or one ``(video_name, (T, 5)
array)`` per video (BSN-TEM). ``output_config=dict(out=..., output_format='json' | 'csv')``
writes them as ActivityNet's proposal JSON or as one CSV per video.
"""

from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Mapping, Sequence

import numpy as np

from vjax.localization.pgm import TEM_HEADER, write_csv

__all__ = ['dump_results', 'load_proposal_file', 'proposals2json']


def _json_default(obj):
  """numpy values as plain JSON (what mmcv's json handler does)."""
  if isinstance(obj, (set, range)):
    return list(obj)
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  if isinstance(obj, np.generic):
    return obj.item()
  raise TypeError(f'{type(obj)} is unsupported for json dump')


def proposals2json(results: Sequence[Mapping[str, Any]]) -> dict[str, list]:
  """``{video id: proposal_list}``; the id drops the two-character ``v_`` of the name."""
  return {result['video_name'][2:]: result['proposal_list'] for result in results}


def dump_results(results, out: str, output_format: str = 'json',
                 version: str = 'VERSION 1.3') -> None:
  """Writes localizer test results as MMAction2's ``ActivityNetDataset.dump_results``.

  ``json``: ``out`` is the file ``{"version": version, "results": {id: proposal_list},
  "external_data": {}}``. ``csv``: ``out`` is a folder; each ``(video_name, rows)`` result
  goes to ``out/<video_name>.csv`` with the TEM header ``action,start,end,tmin,tmax``.
  """
  if output_format == 'json':
    output = {'version': version, 'results': proposals2json(results), 'external_data': {}}
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    with open(out, 'w') as f:
      json.dump(output, f, default=_json_default)
  elif output_format == 'csv':
    os.makedirs(out, exist_ok=True)
    for video_name, rows in results:
      write_csv(osp.join(out, video_name + '.csv'), rows, TEM_HEADER)
  else:
    raise ValueError(f'The output format {output_format} is not supported.')


def load_proposal_file(path: str) -> dict[str, Any]:
  """An ActivityNet proposal / detection JSON (``{"results": {id: [...]}, ...}``)."""
  with open(path) as f:
    data = json.load(f)
  if 'results' not in data:
    raise ValueError(f'{path}: not an ActivityNet result file (no "results" key)')
  return data
