"""Checkpoints: safetensors files (never pickle), written atomically, loaded with clear errors.

Format: the tensors of a flat ``dict[str, np.ndarray]`` plus the safetensors metadata
``{"rnnlab": "<one JSON string>"}`` (safetensors metadata values must be strings).

Atomic write (``atomic_write_bytes``): the bytes go to a temporary file in the same folder, which is
flushed and fsynced, then ``os.replace``d over the target and the folder fsynced.  A process killed
at any moment leaves either the old file or the new one, never a half-written one
(``tests/io/test_checkpoint.py``).  What a killed writer does leave is its temporary file
(``.NAME.PID.XXXX.tmp``); the next successful write of the same name removes such leftovers when
their process is gone and they have not changed for a minute (or a day, whatever the process).

Loading validates before it trusts: the file size, the 8-byte header length, the JSON header, the
offsets (by the safetensors library); any failure raises ``CheckpointError`` and nothing else.
"""

from __future__ import annotations

import glob
import json
import os
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

METADATA_KEY = "rnnlab"
MAX_HEADER_BYTES = 16 * 1024 * 1024  # 16 MiB of JSON header is far beyond any real model
MAX_TENSORS = 4096  # a 100-layer model with optimizer state holds well under this
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3  # 2 GiB
STALE_TEMP_SECONDS = 60.0  # a leftover temporary file of a dead process, unchanged this long, is removed
ABANDONED_TEMP_SECONDS = 24 * 3600.0  # ... and any leftover unchanged this long (e.g. another machine's)
RUN_MODEL_FILE = "model.safetensors"  # the model in a run folder of `rnnlab train` (training.MODEL_FILE)


class CheckpointError(ValueError):
    """A checkpoint could not be written or read: the message says why and names the file."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)
    remove_stale_temps(path)


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left behind; return them.

    A leftover is removed when the process named in it no longer exists and the file has not
    changed for ``STALE_TEMP_SECONDS``, or when it has not changed for ``ABANDONED_TEMP_SECONDS``
    (a process on another machine sharing the folder cannot be asked whether it is alive)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    now = time.time()
    for candidate in folder.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid_text = candidate.name[len(path.name) + 2 :].split(".", 1)[0]
        try:
            age = now - candidate.stat().st_mtime
            dead = pid_text.isdigit() and not _process_alive(int(pid_text))
            if (dead and age > STALE_TEMP_SECONDS) or age > ABANDONED_TEMP_SECONDS:
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill(pid, 0) would send Ctrl-C, not ask
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def checkpoint_file(path: str | os.PathLike) -> Path:
    """``path`` as given, or, for a run folder of ``rnnlab train``, the model file it holds."""
    p = Path(path).expanduser()
    return p / RUN_MODEL_FILE if p.is_dir() and (p / RUN_MODEL_FILE).is_file() else p


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Save tensors (and a JSON-able ``meta``) as a safetensors file, atomically."""
    from safetensors.numpy import save

    bad = [k for k, v in tensors.items() if not isinstance(v, np.ndarray)]
    if bad:
        raise CheckpointError(f"not NumPy arrays: {bad}")
    metadata = {METADATA_KEY: json.dumps(meta, sort_keys=True)} if meta is not None else None
    data = save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=metadata)
    atomic_write_bytes(path, data)


def _read_validated(path: Path, max_bytes: int) -> tuple[bytes, dict]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror})") from None
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if size > max_bytes:
        raise CheckpointError(f"{path}: {size} bytes is larger than the limit of {max_bytes}")
    if size < 8:
        raise CheckpointError(f"{path}: too short to be a safetensors file ({size} bytes)")
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(MAX_HEADER_BYTES, size - 8):
        raise CheckpointError(f"{path}: not a safetensors file (header length {header_len} exceeds the file)")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # bad JSON, a 5000-digit number, deep nesting
        raise CheckpointError(f"{path}: not a safetensors file (the header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (the header is not a JSON object)")
    count = len(header) - ("__metadata__" in header)
    if count > MAX_TENSORS:
        raise CheckpointError(f"{path}: {count} tensors is more than the limit of {MAX_TENSORS}")
    return data, header


def read_metadata(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> dict | None:
    """The rnnlab metadata of a checkpoint (None for a foreign safetensors file without it)."""
    _, header = _read_validated(Path(path), max_bytes)
    return _parse_meta(Path(path), header)


def _parse_meta(path: Path, header: dict) -> dict | None:
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or METADATA_KEY not in metadata:
        return None
    try:
        meta = json.loads(metadata[METADATA_KEY])
    except (TypeError, ValueError, RecursionError):
        raise CheckpointError(f"{path}: the '{METADATA_KEY}' metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the '{METADATA_KEY}' metadata is not a JSON object")
    return meta


def load_checkpoint(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[dict[str, np.ndarray], dict | None]:
    """Return (tensors, meta); meta is None for a foreign file.  Raises CheckpointError only."""
    from safetensors.numpy import load

    path = Path(path)
    data, header = _read_validated(path, max_bytes)
    meta = _parse_meta(path, header)
    try:
        tensors = load(data)
    except Exception as e:  # the library raises SafetensorError and, for some inputs, others
        raise CheckpointError(f"{path}: corrupt safetensors file ({type(e).__name__}: {e})") from None
    return {k: np.array(v) for k, v in tensors.items()}, meta
