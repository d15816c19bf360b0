"""Resume after SIGKILL: a run killed at random moments and resumed gives the same weights and losses,
bit for bit, as the same run left alone.

Each run is a child process (``python -c CHILD``) training a tiny 2-layer LSTM with dropout (so the
random state must be restored too) on a text made here; it resumes from its own folder when a
resumable checkpoint is there.  The test kills it with SIGKILL at a random moment after it has made
progress, three times, then lets it finish, and compares with an uninterrupted run of the same
child: every step loss and validation loss in ``metrics.jsonl``, and every tensor (parameters,
optimizer moments, data position, hidden state, random state) of the final checkpoints.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from rnnlab.io import load_checkpoint
from rnnlab.training.metrics import read_metrics

KILLS = 3
CHILD = r"""
import sys
from pathlib import Path
from rnnlab.training import TrainConfig, train_charlm
from rnnlab.training import loop

loop._plot = lambda *args: None  # the loss picture is ~1 s per validation here and irrelevant to resuming

out = Path(sys.argv[1])
words = "the cat sat on a mat and a rat ran to the hat of the bat; ".split()
text = " ".join(words[(i * 7 + i // 3) % len(words)] for i in range(1500)) + "\n"
config = TrainConfig(cell="lstm", hidden_size=16, num_layers=2, dropout=0.2, seq_len=16, batch_size=8, lr=1e-2,
                     warmup_steps=5, steps=int(sys.argv[2]), minutes=None, eval_every=10, eval_streams=2,
                     eval_max_chars=400, sample_length=0, seed=3)
resume = out if (out / "last.resume.safetensors").exists() else None
result = train_charlm(config, text, out, resume=resume)
print(result.reason, result.step, flush=True)
"""
STEPS = 240


def start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(STEPS)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def last_step(out: Path) -> int:
    path = out / "metrics.jsonl"
    if not path.exists():
        return 0
    return max((r.get("step", 0) for r in read_metrics(path) if r.get("kind") == "step"), default=0)


def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr[-2000:]
    return stdout


def step_losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "step"}


def eval_losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["val_loss"] for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "eval"}


def test_a_run_killed_three_times_and_resumed_matches_the_uninterrupted_run_bit_for_bit(tmp_path):
    rng = random.Random(11)
    whole = tmp_path / "whole"
    assert finish(start(whole)).startswith(f"steps {STEPS}")

    cut = tmp_path / "cut"
    kills, killed_at = 0, []
    for _ in range(KILLS):
        before = last_step(cut)
        proc = start(cut)
        deadline = time.monotonic() + 60
        while last_step(cut) < before + 12 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # it has resumed and trained past its next checkpoint
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(30)
        proc.stdout.close(), proc.stderr.close()
        killed_at.append(last_step(cut))
    assert kills == KILLS, f"the run finished before it could be killed {KILLS} times: {killed_at}"
    assert killed_at[-1] < STEPS
    assert finish(start(cut)).startswith(f"steps {STEPS}")

    starts = [r for r in read_metrics(cut / "metrics.jsonl") if r["kind"] == "start"]
    assert [r["resumed"] for r in starts] == [False] + [True] * KILLS  # each child went on, none started over
    assert all(0 < r["step"] < STEPS for r in starts[1:]), [r["step"] for r in starts]
    assert step_losses(cut) == step_losses(whole)  # every one of the 240 step losses, exact floats
    assert sorted(step_losses(cut)) == list(range(1, STEPS + 1))
    assert eval_losses(cut) == eval_losses(whole)
    for name in ("last.resume.safetensors", "model.safetensors"):
        a, meta_a = load_checkpoint(cut / name)
        b, meta_b = load_checkpoint(whole / name)
        assert sorted(a) == sorted(b)
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), (name, key)
        if name == "last.resume.safetensors":
            timeless = lambda counters: {k: v for k, v in counters.items() if k != "seconds"}
            assert timeless(meta_a["counters"]) == timeless(meta_b["counters"])
