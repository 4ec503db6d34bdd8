"""TFRecord framing without TensorFlow: CRC-32C check value, masking, round trip, damage found."""

from __future__ import annotations

import struct

import pytest

from vjax.data import tfrecord


def test_crc32c_check_value_and_tensorflow_masking():
  # The CRC-32C (Castagnoli) check value of "123456789" is 0xE3069283 (RFC 3720, B.4).
  assert tfrecord._crc32c(b"123456789") == 0xE3069283
  crc = 0xE3069283
  rotated = ((crc >> 15) | (crc << 17)) & 0xFFFFFFFF  # rotate right by 15 bits
  assert tfrecord.masked_crc(b"123456789") == (rotated + 0xA282EAD8) & 0xFFFFFFFF


def test_round_trip_layout_and_random_access(tmp_path):
  records = [b"", b"a", b"hello world" * 100, bytes(range(256))]
  paths = [str(tmp_path / "s0.tfrecord"), str(tmp_path / "s1.tfrecord")]
  assert tfrecord.write(paths[0], records[:3]) == (3, sum(len(r) + 16 for r in records[:3]))
  tfrecord.write(paths[1], records[3:])
  with open(paths[0], "rb") as f:
    raw = f.read()
  # First record: 8-byte length 0, its masked CRC, no payload, the empty payload's masked CRC.
  assert raw[:8] == struct.pack("<Q", 0)
  assert raw[8:12] == struct.pack("<I", tfrecord.masked_crc(struct.pack("<Q", 0)))
  assert raw[12:16] == struct.pack("<I", tfrecord.masked_crc(b""))
  assert tfrecord.index(paths[0]) == [(12, 0), (28, 1), (45, 1100)]
  reader = tfrecord.Reader(paths)
  assert len(reader) == 4
  assert [reader[i] for i in (3, 0, 2, 1)] == [records[3], records[0], records[2], records[1]]


def test_damage_is_reported_by_file(tmp_path):
  path = str(tmp_path / "d.tfrecord")
  tfrecord.write(path, [b"payload one", b"payload two"])
  data = bytearray(open(path, "rb").read())
  data[14] ^= 0xFF  # inside the first payload
  open(path, "wb").write(bytes(data))
  reader = tfrecord.Reader([path])
  with pytest.raises(ValueError, match="d.tfrecord: corrupt TFRecord payload"):
    reader[0]
  assert reader[1] == b"payload two"
  open(path, "wb").write(bytes(data[:-5]))
  with pytest.raises(ValueError, match="truncated"):
    tfrecord.index(path)
  open(path, "wb").write(b"not a tfrecord file at all")
  with pytest.raises(ValueError, match="not a TFRecord"):
    tfrecord.index(path)
