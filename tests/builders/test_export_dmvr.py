"""DMVR SequenceExample export of a built dataset: the frames unchanged, labels and timestamps
under DMVR's keys, readable with TFDS's protos (and tf.data when TensorFlow is installed)."""

from __future__ import annotations

import pytest

from tests.builders.conftest import TRAIN
from vjax.data import tfrecord
from vjax.data.sources.tfds_records import TFDSDataset
from vjax.tools import export_dmvr


def test_export_keeps_frames_labels_and_duration(built, tmp_path):
  from tensorflow_datasets.proto import tf_example_pb2 as pb  # pylint: disable=g-import-not-at-top
  paths = export_dmvr.export("mmaction_list", built["array_record"], "frames_340x256", "train",
                             str(tmp_path), num_shards=2)
  assert [p.rsplit("/", 1)[1] for p in paths] == [
      "mmaction_list-train.tfrecord-00000-of-00002", "mmaction_list-train.tfrecord-00001-of-00002"]
  ds = TFDSDataset("mmaction_list", "train", built["array_record"],
                   builder_config="frames_340x256")
  stored = {ds[i]["video_id"]: ds[i] for i in range(len(ds))}
  reader = tfrecord.Reader(paths)
  assert len(reader) == len(TRAIN) == 3
  for i in range(len(reader)):
    ex = pb.SequenceExample.FromString(reader[i])
    ctx = ex.context.feature
    video_id = ctx["clip/data_path"].bytes_list.value[0].decode()
    label, n, _ = TRAIN[video_id]
    assert list(ctx["clip/label/index"].int64_list.value) == [label]
    assert ctx["clip/label/string"].bytes_list.value[0].decode() == ["jump rope", "run"][label]
    assert ctx["clip/end/timestamp"].int64_list.value[0] == n * 100_000  # n frames at 10 fps
    frames = [f.bytes_list.value[0] for f in ex.feature_lists.feature_list["image/encoded"].feature]
    assert frames == stored[video_id]["frames_bytes"]


def test_export_refuses_video_configs(built, tmp_path, manual_dir):
  from vjax.tools import build_dataset  # pylint: disable=g-import-not-at-top
  build_dataset.build("mmaction_list", manual_dir, str(tmp_path / "v"), "video", num_workers=1)
  with pytest.raises(SystemExit, match="needs a frames_\\* config"):
    export_dmvr.main(["mmaction_list", f"--data_dir={tmp_path / 'v'}", "--config=video",
                      f"--out_dir={tmp_path / 'out'}"])


def test_tensorflow_parses_the_export(built, tmp_path):
  tf = pytest.importorskip("tensorflow")
  paths = export_dmvr.export("mmaction_list", built["array_record"], "frames_340x256", "train",
                             str(tmp_path))
  ds = tf.data.TFRecordDataset(paths)
  first = next(iter(ds))
  ctx, seq = tf.io.parse_single_sequence_example(
      first, context_features={"clip/label/index": tf.io.VarLenFeature(tf.int64)},
      sequence_features={"image/encoded": tf.io.FixedLenSequenceFeature([], tf.string)})
  assert int(tf.sparse.to_dense(ctx["clip/label/index"])[0]) in (0, 1)
  assert seq["image/encoded"].shape[0] in (8, 6, 10)
