"""Checkpoint files: round trip, atomic replacement, and a clear CheckpointError for every bad file."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

from rnnlab.io import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from rnnlab.io import checkpoint as ckpt


def test_round_trip_keeps_arrays_dtypes_and_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1.5, -2.0]), "n": np.array([3], np.int64)}
    save_checkpoint(path, tensors, {"cell": "gru", "vocab": ["a", "é", "😀"]})
    loaded, meta = load_checkpoint(path)
    assert meta == {"cell": "gru", "vocab": ["a", "é", "😀"]}
    assert read_metadata(path) == meta
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded[k], v)


def test_metadata_is_one_json_string_under_the_rnnlab_key(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, {"a": np.zeros(2)}, {"x": 1})
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert header["__metadata__"] == {"rnnlab": json.dumps({"x": 1})}


def test_save_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, {"a": np.zeros(2)}, {"v": 1})
    save_checkpoint(path, {"a": np.ones(2)}, {"v": 2})
    assert load_checkpoint(path)[1] == {"v": 2}
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_a_failed_save_keeps_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, {"a": np.zeros(2)}, {"v": 1})

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt.os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_checkpoint(path, {"a": np.ones(2)}, {"v": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)[1] == {"v": 1}
    assert os.listdir(tmp_path) == ["m.safetensors"]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "too short"),
        (b"\x01\x02", "too short"),
        (struct.pack("<Q", 10**12) + b"{}", "header length"),
        (struct.pack("<Q", 4) + b"nope", "not JSON"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (b"PK\x03\x04" + b"\x00" * 100, "header length"),  # a zip (torch.save) file
    ],
)
def test_garbage_files_raise_checkpoint_error(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_truncated_and_bit_flipped_files_raise_only_checkpoint_error(tmp_path):
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, {"w": np.arange(100, dtype=np.float32), "b": np.ones(3)}, {"k": "v"})
    data = good.read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.safetensors"
    for cut in list(range(0, len(data), 7)):
        bad.write_bytes(data[:cut])
        try:
            load_checkpoint(bad)
        except CheckpointError:
            pass
    for _ in range(200):
        flipped = bytearray(data)
        pos = int(rng.integers(0, 8 + struct.unpack("<Q", data[:8])[0]))
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        bad.write_bytes(bytes(flipped))
        try:
            load_checkpoint(bad)
        except CheckpointError:
            pass


def test_missing_file_folder_and_oversized_file_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, {"a": np.zeros(1000)})
    with pytest.raises(CheckpointError, match="larger than the limit"):
        load_checkpoint(path, max_bytes=100)


def _leftover(folder, name: str, pid: int, age: float):
    path = folder / f".{name}.{pid}.{int(age)}x.tmp"
    path.write_bytes(b"half a checkpoint")
    stamp = __import__("time").time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_a_save_removes_only_the_stale_leftovers_of_dead_writers(tmp_path):
    dead_pid = 2**22 + 12345  # above Linux's largest pid: no such process
    stale = _leftover(tmp_path, "m.safetensors", dead_pid, 2 * ckpt.STALE_TEMP_SECONDS)
    fresh = _leftover(tmp_path, "m.safetensors", dead_pid, 0.0)  # may still be written by a slow writer elsewhere
    alive = _leftover(tmp_path, "m.safetensors", os.getpid(), 2 * ckpt.STALE_TEMP_SECONDS)
    abandoned = _leftover(tmp_path, "m.safetensors", os.getpid(), 2 * ckpt.ABANDONED_TEMP_SECONDS)
    other_name = _leftover(tmp_path, "other.safetensors", dead_pid, 2 * ckpt.STALE_TEMP_SECONDS)
    save_checkpoint(tmp_path / "m.safetensors", {"w": np.zeros(3)}, {})
    assert not stale.exists() and not abandoned.exists()
    assert fresh.exists() and alive.exists() and other_name.exists()
    assert load_checkpoint(tmp_path / "m.safetensors")[0]["w"].shape == (3,)
