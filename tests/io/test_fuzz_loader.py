"""Fuzzing the checkpoint loader: thousands of corrupted, truncated and oversized safetensors files.

Every file either loads (a flipped bit inside a tensor's data is still a valid file) or raises the
loader's own ``CheckpointError``: never another exception, never a hang (each load is timed, and a
watchdog ends the run if one never returns), and the process's peak memory stays bounded (the
kernel's peak-RSS counter, reset before the run).  Files that are structurally broken (every strict
prefix of a valid file, every forged header below) must raise.  The same holds one level up, for
``CharLM.load``, which the server uses for the models it lists.
"""

from __future__ import annotations

import faulthandler
import json
import random
import re
import shutil
import struct
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from support.tiny_charlm import random_model

from rnnlab.io import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from rnnlab.io.checkpoint import DEFAULT_MAX_FILE_BYTES, MAX_HEADER_BYTES, MAX_TENSORS
from rnnlab.tasks.charlm import CharLM

SEED = 20240607
PER_FILE_SECONDS = 2.0  # generous on a shared machine; a typical load takes well under a millisecond
PEAK_MEMORY_MB = 150  # growth of the peak RSS over the whole run
ROOT = Path(__file__).resolve().parents[2]


def _split(blob: bytes) -> tuple[int, dict]:
    (n,) = struct.unpack("<Q", blob[:8])
    return n, json.loads(blob[8 : 8 + n])


def _build(header: dict | bytes, data: bytes, pad: bool = True) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def valid_blob(tmp_path: Path) -> bytes:
    model = random_model(cell="gru", hidden=6, layers=2, text="abcdef \n")
    model.save(tmp_path / "base.safetensors", note="fuzz base")
    return (tmp_path / "base.safetensors").read_bytes()


NASTY_VALUES = [None, -1, 2**63, 2**64 + 7, 10**30, 1.5, float("inf"), "1", "", [], {}, [1, 2, 3],
                [-1, 4], [0, 2**62], [2**40, 2**40], [True], "F64", [[0]]]
NASTY_DTYPES = ["F128", "f32", "", "O", "F8_E4M3", "U128", "STRING", None, 7]


def forged_headers(blob: bytes) -> list[tuple[str, bytes]]:
    """Valid framing, hostile header: each must raise."""
    n, header = _split(blob)
    data = blob[8 + n :]
    names = [k for k in header if k != "__metadata__"]
    out = []
    for name in names:
        entry = header[name]
        for field in ("shape", "data_offsets"):
            for value in NASTY_VALUES:
                if value == entry[field]:
                    continue
                out.append((f"{name}.{field}={value!r}", _build({**header, name: {**entry, field: value}}, data)))
        for dtype in NASTY_DTYPES:
            out.append((f"{name}.dtype={dtype!r}", _build({**header, name: {**entry, "dtype": dtype}}, data)))
        out.append((f"{name} missing a field", _build({**header, name: {"dtype": entry["dtype"]}}, data)))
        out.append((f"{name} not an object", _build({**header, name: [1, 2]}, data)))
    a, b = names[0], names[1]
    out.append(("two tensors on the same bytes", _build({**header, b: {**header[b], "data_offsets": header[a]["data_offsets"]}}, data)))
    out.append(("data shorter than the offsets", _build(header, data[:-1])))
    out.append(("data longer than the offsets", _build(header, data + b"\x00" * 8)))
    meta = header["__metadata__"]
    for bad in [[1], "x", {"rnnlab": 5}, {"rnnlab": "{not json"}, {"rnnlab": "[" * 100_000 + "]" * 100_000},
                {"rnnlab": "9" * 5000}, {"rnnlab": "[1, 2]"}]:
        out.append((f"__metadata__={str(bad)[:30]}", _build({**header, "__metadata__": bad}, data)))
    out += [
        ("header is null", _build(b"null", data)),
        ("header is an array", _build(b"[1, 2, 3]", data)),
        ("header is a string", _build(b'"abc"', data)),
        ("header nested 100000 deep", _build(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", data)),
        ("header with a 5000-digit number", _build(b'{"a": ' + b"9" * 5000 + b"}", data)),
        ("header with NaN", _build(b'{"a": NaN}', data)),
        ("header not UTF-8", _build(b'{"a\xff\xfe": 1}', data)),
        ("header empty", _build(b"", data, pad=False)),
        ("header of spaces", _build(b" " * 64, data)),
        ("a tensor of 2^40 x 2^40 floats", _build({"a": {"dtype": "F32", "shape": [2**40, 2**40],
                                                         "data_offsets": [0, 16]}}, b"\x00" * 16)),
        ("header length 2^63", struct.pack("<Q", 2**63) + blob[8:]),
        ("header length 2^64 - 1", struct.pack("<Q", 2**64 - 1) + blob[8:]),
        ("header length 0", struct.pack("<Q", 0) + blob[8:]),
        ("header length one past the file", struct.pack("<Q", len(blob) - 7) + blob[8:]),
        ("header length one short", struct.pack("<Q", n - 1) + blob[8:]),
        ("header length one long", struct.pack("<Q", n + 1) + blob[8:]),
    ]
    return out


def mutants(blob: bytes, rng: random.Random) -> list[tuple[str, bytes, bool]]:
    """(label, bytes, must_raise) for every truncation, random flips, garbage; ~3000 files."""
    n, _ = _split(blob)
    out: list[tuple[str, bytes, bool]] = []
    cut_points = sorted(set(range(0, 8 + n + 64)) | set(rng.sample(range(len(blob)), min(400, len(blob)))))
    out += [(f"truncated to {k}", blob[:k], True) for k in cut_points if k < len(blob)]
    for region, lo, hi, count in (("length", 0, 8, 200), ("header", 8, 8 + n, 1200), ("data", 8 + n, len(blob), 300)):
        for _ in range(count):
            b = bytearray(blob)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(lo, hi)] = rng.randrange(256)
            out.append((f"{region} bytes changed", bytes(b), False))
    for _ in range(300):
        size = rng.choice([0, 1, 7, 8, 9, 16, 100, 4096, 65536])
        out.append(("random bytes", rng.randbytes(size), size < 8))
    for _ in range(200):
        size = rng.randrange(0, 4096)
        out.append(("valid length field, random header", struct.pack("<Q", size) + rng.randbytes(size + rng.randrange(64)), False))
    for _ in range(300):  # splice: a valid head with another file's tail
        k = rng.randrange(8, len(blob))
        out.append(("spliced", blob[:k] + rng.randbytes(rng.randrange(1, 512)), False))
    return out


def _peak_rss_kb() -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", text).group(1))
    except (OSError, AttributeError):
        return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@pytest.fixture
def fast_dir(tmp_path):
    """A folder in RAM when there is one (thousands of rewrites of one file are slow on some disks)."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="rnnlab-fuzz-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_loader(path: Path, blob: bytes | None, loader) -> tuple[str, float]:
    if blob is not None:
        path.write_bytes(blob)
    t0 = time.process_time()  # CPU seconds: a loader that spins is caught; a busy machine does not flake
    try:
        loader(path)
        outcome = "loaded"
    except CheckpointError:
        outcome = "error"
    except Exception as e:
        outcome = f"{type(e).__name__}: {str(e)[:200]}"
    return outcome, time.process_time() - t0


def test_thousands_of_damaged_files_raise_checkpoint_error_quickly_in_bounded_memory(tmp_path, fast_dir):
    rng = random.Random(SEED)
    blob = valid_blob(tmp_path)
    cases = [(label, data, True) for label, data in forged_headers(blob)] + mutants(blob, rng)

    assert len(cases) >= 2000
    path = fast_dir / "fuzz.safetensors"
    wrong, slow, counts = [], [], {"loaded": 0, "error": 0}
    faulthandler.dump_traceback_later(600, exit=True)  # a hang ends the run with a traceback
    reset = _reset_peak_rss()
    rss_before = _peak_rss_kb()
    tracemalloc.start()
    try:
        for label, data, must_raise in cases:
            path.write_bytes(data)
            for loader in (load_checkpoint, read_metadata):
                outcome, seconds = run_loader(path, None, loader)
                if seconds > PER_FILE_SECONDS:
                    slow.append((label, round(seconds, 2)))
                if loader is load_checkpoint:
                    counts[outcome] = counts.get(outcome, 0) + 1
                if outcome not in ("loaded", "error") or (must_raise and loader is load_checkpoint and outcome == "loaded"):
                    wrong.append((label, loader.__name__, outcome))
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        faulthandler.cancel_dump_traceback_later()
    assert not wrong, wrong[:10]
    assert not slow, slow[:10]
    assert counts["error"] >= len(cases) // 2, counts
    assert traced_peak < PEAK_MEMORY_MB * 2**20, traced_peak
    if reset and rss_before is not None:
        assert _peak_rss_kb() - rss_before < PEAK_MEMORY_MB * 1024


def test_oversized_files_are_refused_before_they_are_read(tmp_path):
    huge = tmp_path / "huge.safetensors"
    with open(huge, "wb") as f:  # sparse: takes no disk space
        f.truncate(DEFAULT_MAX_FILE_BYTES + 1)
    reset = _reset_peak_rss()
    rss_before = _peak_rss_kb()
    t0 = time.process_time()
    with pytest.raises(CheckpointError, match="larger than the limit"):
        load_checkpoint(huge)
    assert time.process_time() - t0 < 1.0
    if reset and rss_before is not None:
        assert _peak_rss_kb() - rss_before < 20 * 1024  # not read into memory
    small_limit = tmp_path / "m.safetensors"
    save_checkpoint(small_limit, {"a": np.zeros(1000)}, {"x": 1})  # (1000,)
    with pytest.raises(CheckpointError, match="larger than the limit"):
        load_checkpoint(small_limit, max_bytes=1000)


def test_a_header_of_twenty_thousand_tensors_is_refused_before_parsing_them(tmp_path):
    """A forged header of many empty tensors would cost seconds and hundreds of MB to parse."""
    path = tmp_path / "many.safetensors"
    header = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(20_000)}
    path.write_bytes(_build(header, b""))
    with pytest.raises(CheckpointError, match="20000 tensors is more than the limit"):
        load_checkpoint(path)
    header = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(MAX_TENSORS)}
    path.write_bytes(_build(header, b""))
    assert len(load_checkpoint(path)[0]) == MAX_TENSORS


def test_a_header_longer_than_its_limit_is_refused(tmp_path):
    path = tmp_path / "h.safetensors"
    header = b'{"a": "' + b"x" * MAX_HEADER_BYTES + b'"}'
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(CheckpointError, match="header length"):
        load_checkpoint(path)


def _charlm_variants(blob: bytes) -> list[tuple[str, bytes]]:
    """Valid safetensors files whose rnnlab metadata or tensors do not describe a char-LM."""
    n, header = _split(blob)
    data = blob[8 + n :]
    meta = json.loads(header["__metadata__"]["rnnlab"])
    out = []

    def with_meta(label, new_meta):
        out.append((label, _build({**header, "__metadata__": {"rnnlab": json.dumps(new_meta)}}, data)))

    with_meta("no vocab", {k: v for k, v in meta.items() if k != "vocab"})
    with_meta("no config", {k: v for k, v in meta.items() if k != "config"})
    for key, values in {"cell": ["tree", "", None, 3, ["gru"]], "hidden_size": [0, -6, 7, 6.5, "6", None, True, 10**12],
                        "num_layers": [0, -1, 1, 3, 2.0, "2", None, 1000], "nonlinearity": ["sigmoid", None, 1]}.items():
        for value in values:
            with_meta(f"config.{key}={value!r}", {**meta, "config": {**meta["config"], key: value}})
    with_meta("config has an unknown key", {**meta, "config": {**meta["config"], "evil": 1}})
    for vocab in [[], ["a"], "abc", ["ab", "c"], [1, 2], ["a"] * len(meta["vocab"]), meta["vocab"][:-1],
                  meta["vocab"] + ["z"], None, 5, {"a": 1}]:
        with_meta(f"vocab={str(vocab)[:20]}", {**meta, "vocab": vocab})
    with_meta("metadata is a list", [1, 2])  # rejected by read_metadata already
    out.append(("no metadata", _build({k: v for k, v in header.items() if k != "__metadata__"}, data)))
    names = [k for k in header if k != "__metadata__"]
    out.append(("a tensor missing", _build({k: v for k, v in header.items() if k != names[0]}, data)))
    return out


def test_char_lm_load_raises_checkpoint_error_for_files_that_are_not_its_model(tmp_path):
    blob = valid_blob(tmp_path)
    path = tmp_path / "c.safetensors"
    assert run_loader(path, blob, CharLM.load)[0] == "loaded"
    wrong, slow = [], []
    for label, data in _charlm_variants(blob):
        outcome, seconds = run_loader(path, data, CharLM.load)
        if outcome != "error":
            wrong.append((label, outcome))
        if seconds > PER_FILE_SECONDS:
            slow.append((label, seconds))
    assert not wrong and not slow, (wrong, slow)


def test_a_forged_layer_count_is_refused_at_once(tmp_path):
    blob = valid_blob(tmp_path)
    n, header = _split(blob)
    meta = json.loads(header["__metadata__"]["rnnlab"])
    meta["config"]["num_layers"] = 50_000
    forged = _build({**header, "__metadata__": {"rnnlab": json.dumps(meta)}}, blob[8 + n :])
    outcome, seconds = run_loader(tmp_path / "f.safetensors", forged, CharLM.load)
    assert outcome == "error" and seconds < 0.5, seconds


def test_no_pickle_anywhere():
    """No pickle, marshal, shelve, joblib, dill, torch.load or np.load(allow_pickle=True) in the project."""
    pattern = re.compile(r"\b(import pickle|from pickle|cPickle|cloudpickle|import dill|import marshal|import shelve|"
                         r"joblib|torch\.load\(|allow_pickle\s*=\s*True|pickle\.loads?\()")
    hits = []
    for folder in ("src", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "test_fuzz_loader.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, hits
