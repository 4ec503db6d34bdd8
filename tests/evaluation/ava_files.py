"""Writes AVA label maps in the official protobuf-text layouts (no download needed).

Two layouts exist: the 80-class v2.x action lists use ``label { name, label_id, label_type }``
blocks; the 60-class list of the ActivityNet 2018 challenge uses ``item { name, id }``. Names
are placeholders: evaluation only reads the ids. Also imported by
tests/reference/make_golden_metrics.py, so keep it free of vjax imports.
"""

from __future__ import annotations

AVA80_IDS = tuple(range(1, 81))
# The 60 classes evaluated in the ActivityNet 2018 AVA challenge (ids of the 80-class list).
AVA60_IDS = (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 20, 22, 24, 26, 27, 28, 29, 30,
             34, 36, 37, 38, 41, 43, 45, 46, 47, 48, 49, 51, 52, 54, 56, 57, 58, 59, 60, 61, 62,
             63, 64, 65, 66, 67, 68, 69, 70, 72, 73, 74, 76, 77, 78, 79, 80)


def _label_type(class_id: int) -> str:
  if class_id <= 14:
    return 'PERSON_MOVEMENT'
  return 'OBJECT_MANIPULATION' if class_id <= 63 else 'PERSON_INTERACTION'


def label_map_text(ids=AVA80_IDS, style: str = 'label') -> str:
  """pbtxt text for ``ids``; style 'label' (80-class v2.x files) or 'item' (60-class file)."""
  blocks = []
  for i in ids:
    if style == 'label':
      blocks.append(f'label {{\n  name: "action {i}"\n  label_id: {i}\n'
                    f'  label_type: {_label_type(i)}\n}}\n')
    elif style == 'item':
      blocks.append(f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n')
    else:
      raise ValueError(style)
  return ''.join(blocks)


def write_label_map(path, ids=AVA80_IDS, style: str = 'label'):
  with open(path, 'w') as f:
    f.write(label_map_text(ids, style))
  return str(path)
