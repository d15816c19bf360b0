"""DDP under torchrun (gloo, CPU): two processes compute what one computes on the combined batch, and
a run resumes across a changed number of processes in both directions.

One torchrun launch (2 processes on 127.0.0.1, a free port) serves every test here:

    one process, steps 1-6          (in this process)            -> folder "one"
    two processes, resume "one", steps 7-12   (torchrun)         -> folder "two"
    one process, resume "two", steps 13-18    (in this process)  -> folder "three"

compared step by step with one process running 18 steps straight.  The global batch of 5 streams is
split 3 + 2, the validation's 3 streams 2 + 1, and dropout is on, so uneven shards, the loss scaling,
the sliced dropout masks and the gathered hidden state are all exercised.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from torch_or_skip import require_torch

import rnnlab
from rnnlab.backends.torch_train import shard_bounds
from rnnlab.data import load_corpus
from rnnlab.training import TrainConfig, preset

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 12
# a constant schedule (after warm-up): a 6-step run is the first 6 steps of an 18-step one
CONFIG = preset("tiny").replace(cell="lstm", hidden_size=8, num_layers=2, seq_len=8, batch_size=5, lr=1e-2,
                                warmup_steps=2, schedule="constant", dropout=0.2, steps=18, minutes=None,
                                eval_every=6, eval_streams=3, eval_max_chars=None, sample_length=0)
TOLERANCE = 1e-10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_flags(config: TrainConfig, base: TrainConfig) -> list[str]:
    """--set KEY=VALUE for every field of config that differs from base."""
    flags = []
    for key, value in config.to_dict().items():
        if value != getattr(base, key) and key not in ("steps", "minutes"):
            flags += ["--set", f"{key}={json.dumps(value)}"]
    return flags


def metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def losses(records, kind="step", key="loss"):
    return {r["step"]: r[key] for r in records if r["kind"] == kind}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch = require_torch()
    torch.set_num_threads(1)
    from rnnlab.backends.torch_train import train_charlm_torch

    root = tmp_path_factory.mktemp("ddp")
    path = root / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    corpus = load_corpus(str(path))

    def train(config, out, resume=None):
        return train_charlm_torch(config, corpus.text, root / out, corpus_name=corpus.name,
                                  corpus_sha256=corpus.sha256, dtype="float64", resume=resume)

    train(CONFIG, "straight")
    train(CONFIG.replace(steps=6), "one")
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
               "-m", "rnnlab.backends.ddp", str(path), "--preset", "tiny", "--steps", "12",
               "--resume", str(root / "one"), "--out", str(root / "two"), "--threads", "1", "--print-every", "0",
               *config_flags(CONFIG, preset("tiny"))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    train(CONFIG, "three", resume=root / "two")
    return root, done.stdout


def test_shards_cover_every_stream_once_in_order_and_differ_by_at_most_one():
    for n in range(1, 20):
        for world in range(1, 6):
            bounds = [shard_bounds(n, world, r) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [stop - start for start, stop in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_two_processes_resume_a_one_process_run_and_compute_what_one_process_computes(runs):
    root, stdout = runs
    straight, two = metrics(root / "straight"), metrics(root / "two")
    expected, got = losses(straight), losses(two)
    assert sorted(got) == list(range(7, 13))
    assert max(abs(got[s] - expected[s]) for s in got) < TOLERANCE
    assert abs(losses(two, "eval", "val_loss")[12] - losses(straight, "eval", "val_loss")[12]) < TOLERANCE
    assert "2 process(es) on cpu" in stdout  # rank 0 alone prints
    assert stdout.count("training a LSTM") + stdout.count("resuming a LSTM") == 1


def test_one_process_resumes_a_two_process_run_exactly(runs):
    root, _ = runs
    expected, got = losses(metrics(root / "straight")), losses(metrics(root / "three"))
    assert sorted(got) == list(range(13, 19))
    assert max(abs(got[s] - expected[s]) for s in got) < TOLERANCE
    final = losses(metrics(root / "straight"), "eval", "val_loss")[18]
    assert abs(losses(metrics(root / "three"), "eval", "val_loss")[18] - final) < TOLERANCE


def test_rank_0_writes_a_model_and_a_resumable_file_that_rnnlab_reads(runs):
    root, _ = runs
    model = rnnlab.load(root / "two" / "model.safetensors")
    assert model.meta["backend"]["processes"] == 2 and model.meta["steps"] == 12
    from rnnlab.training import read_resume

    tensors, meta = read_resume(root / "two")
    assert meta["counters"]["step"] == 12 and meta["backend"]["processes"] == 2
    assert tensors["task.h"].shape == (2, 5, 8) and tensors["task.c"].shape == (2, 5, 8)  # all 5 streams, gathered
    assert np.all(np.isfinite(tensors["task.h"])) and np.any(tensors["task.h"][:, 3:] != 0)  # rank 1's rows too
    assert not any(p.name.endswith(".tmp") for p in (root / "two").iterdir())  # atomic writes left nothing behind


def test_a_batch_smaller_than_the_number_of_processes_is_refused(tmp_path):
    require_torch()
    from rnnlab.backends.torch_train import SingleProcess, train_charlm_torch
    from rnnlab.training import TrainingError

    class EightProcesses(SingleProcess):
        world_size = 8

    with pytest.raises(TrainingError, match="batch 5 is smaller than the 8 processes"):
        train_charlm_torch(CONFIG, TEXT, tmp_path / "x", comm=EightProcesses("cpu"))
    assert not (tmp_path / "x").exists()


def test_the_ddp_entry_reports_a_missing_text_file_in_one_line(tmp_path, capsys):
    require_torch()
    from rnnlab.backends.ddp import main

    assert main([str(tmp_path / "missing.txt"), "--steps", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnlab ddp: error:") and "missing.txt" in err and len(err.splitlines()) == 1
