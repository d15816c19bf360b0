"""Crash safety: a process SIGKILLed at random moments while saving checkpoints never loses the last one.

A child process (forked from the test, so it starts in a millisecond with NumPy already imported)
saves checkpoints of 1 MiB in a loop to the same path and reports each save through a pipe: "b i"
before save i, "e i" once it returned.  The test kills it with SIGKILL after a random delay (0 to about four save times), then
loads the file: it must load, its tensor must hold the value its metadata names (no torn mix of two
saves), and it must not be older than the last save the child reported finished.  After 50 kills,
the same harness run with the atomic rename replaced by a plain ``open(path, "wb").write`` (inside
the child only) must catch a lost checkpoint: that proves the check can fail.
"""

from __future__ import annotations

import os
import random
import signal
import time

import numpy as np
import pytest

from rnnlab.io import CheckpointError, load_checkpoint, save_checkpoint
from rnnlab.io import checkpoint as ckpt

KILLS = 50
N = 128 * 1024  # int64 values: a 1 MiB tensor
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL (POSIX)")


def _direct_write(path, data: bytes) -> None:
    """What a naive saver does: truncate the file and write into it."""
    with open(path, "wb") as f:
        f.write(data)


def _writer(path, start: int, direct: bool, report_fd: int) -> None:
    """The child: save checkpoints start+1, start+2, ... until killed.  Never returns."""
    try:
        if direct:
            ckpt.atomic_write_bytes = _direct_write  # this process only (it is a fork)
        i = start
        while True:
            i += 1
            os.write(report_fd, f"b {i}\n".encode())
            save_checkpoint(path, {"w": np.full(N, i, dtype=np.int64)}, {"i": i})  # (N,)
            os.write(report_fd, f"e {i}\n".encode())
    finally:
        os._exit(0)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def kill_while_saving(path, kills: int, direct: bool, seed: int, stop_at_first_loss: bool = False,
                      span_scale: float = 1.0) -> dict:
    """Run `kills` save-and-kill rounds on one path; count the rounds that lost the checkpoint."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    for _ in range(3):
        save_checkpoint(path, {"w": np.full(N, 0, dtype=np.int64)}, {"i": 0})  # (N,)
    span = min(0.5, 4 * (time.perf_counter() - t0) / 3) * span_scale  # kill within about four saves
    last_finished = 0
    stats = {"kills": 0, "lost": 0, "mid_save": 0, "saves": 0, "errors": [], "span": span}
    for round_ in range(kills):
        start = (round_ + 1) * 1_000_000
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _writer(path, start, direct, write_fd)
        os.close(write_fd)
        time.sleep(rng.uniform(0.0, span))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        stats["kills"] += 1
        lines = _read_all(read_fd).split()
        os.close(read_fd)
        begun = [int(v) for k, v in zip(lines[::2], lines[1::2]) if k == "b"]
        ended = [int(v) for k, v in zip(lines[::2], lines[1::2]) if k == "e"]
        stats["saves"] += len(ended)
        stats["mid_save"] += bool(begun) and (not ended or begun[-1] > ended[-1])
        if ended:
            last_finished = ended[-1]
        problem = None
        try:
            tensors, meta = load_checkpoint(path)
            i = meta["i"]
            if not np.all(tensors["w"] == i):
                problem = f"torn file: metadata says {i}, the tensor holds other values"
            elif i < last_finished:
                problem = f"went back to save {i} after save {last_finished} had finished"
            elif i not in (last_finished, (begun or [last_finished])[-1]):
                problem = f"holds save {i}, expected {last_finished}"
            else:
                last_finished = i  # the save in progress may have finished before its "e" was written
        except CheckpointError as e:
            problem = f"does not load: {e}"
        if problem:
            stats["lost"] += 1
            stats["errors"].append(f"round {round_}: {problem}")
            if stop_at_first_loss:
                break
            save_checkpoint(path, {"w": np.full(N, last_finished, dtype=np.int64)}, {"i": last_finished})
    return stats


def test_fifty_kills_during_atomic_saves_never_lose_the_previous_checkpoint(tmp_path):
    stats = kill_while_saving(tmp_path / "m.safetensors", KILLS, direct=False, seed=7)
    # The test has power only if many kills land inside a save and some after a finished one. On a
    # loaded machine the timing shifts (22 of 50 mid-save once; another time no save finished), so then
    # kill again, up to 150 kills in all, with a wider window when no save had finished.
    for seed in (8, 9):
        if stats["mid_save"] >= KILLS // 2 and stats["saves"] >= 1:
            break
        more = kill_while_saving(tmp_path / "m.safetensors", KILLS, direct=False, seed=seed,
                                 span_scale=1.0 if stats["saves"] else 3.0)
        stats = {k: stats[k] + more[k] for k in ("kills", "lost", "mid_save", "saves", "errors")}
    assert stats["kills"] >= 50
    assert stats["lost"] == 0, stats["errors"][:5]
    assert stats["mid_save"] >= KILLS // 2, stats  # that many kills landed inside a save
    # some kills came after completed saves of the same child, so "went back" was checked (timing-
    # dependent: fork start-up on a loaded machine eats into the kill window; 2 of 50 were seen with
    # another job on the second core, 5-20 on an idle machine)
    assert stats["saves"] >= 1, stats
    leftovers = [p for p in tmp_path.iterdir() if p.name != "m.safetensors"]
    assert all(p.name.startswith(".m.safetensors.") and p.name.endswith(".tmp") for p in leftovers), leftovers
    assert leftovers, "no kill left a temporary file behind: the clean-up below is not exercised"
    # the killed writers are gone; once their files are a minute old, the next save removes them all
    old = time.time() - 2 * ckpt.STALE_TEMP_SECONDS
    for p in leftovers:
        os.utime(p, (old, old))
    save_checkpoint(tmp_path / "m.safetensors", {"w": np.zeros(N, dtype=np.int64)}, {"i": -1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_the_same_kills_catch_a_saver_that_writes_in_place(tmp_path):
    stats = kill_while_saving(tmp_path / "m.safetensors", KILLS, direct=True, seed=7, stop_at_first_loss=True)
    assert stats["lost"] >= 1, f"{stats['kills']} kills of a non-atomic saver went unnoticed: the check is blind"
