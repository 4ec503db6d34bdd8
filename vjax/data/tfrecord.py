"""TFRecord files without TensorFlow: a writer, and a random-access reader over an offset index.

The framing is TensorFlow's (little-endian uint64 length, masked CRC-32C of the length, the
bytes, masked CRC-32C of the bytes), so ``tf.data.TFRecordDataset`` reads what this writes and
vjax reads TFDS's and DMVR's ``.tfrecord`` shards by index, which grain's random access needs.
"""

from __future__ import annotations

import os
import struct
from typing import Iterable, Sequence

_MASK_DELTA = 0xA282EAD8


def _crc32c(data: bytes) -> int:
  import google_crc32c  # pylint: disable=g-import-not-at-top
  return google_crc32c.value(data)


def masked_crc(data: bytes) -> int:
  """TensorFlow's masked CRC-32C (rotated and offset so a CRC of CRCs stays distinctive)."""
  crc = _crc32c(data)
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def write(path: str, records: Iterable[bytes]) -> tuple[int, int]:
  """Writes ``records`` to ``path``; returns (records, bytes written)."""
  n = size = 0
  with open(path, "wb") as f:
    for data in records:
      header = struct.pack("<Q", len(data))
      f.write(header + struct.pack("<I", masked_crc(header)) + data
              + struct.pack("<I", masked_crc(data)))
      n, size = n + 1, size + len(data) + 16
  return n, size


def index(path: str) -> list[tuple[int, int]]:
  """(offset, length) of every record's payload, from the length headers alone (no payload is
  read), checking each header's CRC so a truncated or foreign file fails here, by name."""
  out, end = [], os.path.getsize(path)
  with open(path, "rb") as f:
    offset = 0
    while offset < end:
      header = f.read(12)
      if len(header) < 12:
        raise ValueError(f"{path}: truncated TFRecord header at byte {offset}")
      (length,), (crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
      if crc != masked_crc(header[:8]):
        raise ValueError(f"{path}: corrupt TFRecord length at byte {offset} (not a TFRecord "
                         "file, or damaged)")
      if offset + 16 + length > end:
        raise ValueError(f"{path}: truncated TFRecord at byte {offset}")
      out.append((offset + 12, length))
      offset += 16 + length
      f.seek(offset)
  return out


class Reader:
  """Random access to the records of TFRecord shards, in shard order."""

  def __init__(self, paths: Sequence[str]):
    self.paths = list(paths)
    self._entries = [(shard, off, n) for shard, p in enumerate(self.paths)
                     for off, n in index(p)]
    self._files: dict[int, object] = {}

  def __len__(self) -> int:
    return len(self._entries)

  def __getitem__(self, i: int) -> bytes:
    shard, offset, length = self._entries[i]
    f = self._files.get(shard)
    if f is None:
      f = self._files[shard] = open(self.paths[shard], "rb")  # pylint: disable=consider-using-with
    f.seek(offset)
    data = f.read(length)
    crc = f.read(4)
    if len(data) != length or struct.unpack("<I", crc)[0] != masked_crc(data):
      raise ValueError(f"{self.paths[shard]}: corrupt TFRecord payload at byte {offset}")
    return data

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_files"] = {}  # open files stay in their process
    return state
