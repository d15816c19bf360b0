"""Training throughput of the torch backend under ``torchrun``: characters per second for 1 and N processes.

Each row is a real ``torchrun`` launch of this script's worker, which trains the char-LM with
``rnnlab.backends.torch_train.train_charlm_torch`` (the same loop as ``python -m rnnlab.backends.ddp``):
DistributedDataParallel over gloo on the CPU or NCCL on GPUs; one process runs without the DDP wrapper.
The global batch is the same in every row (B streams split over the processes), so every row does
the same work per step and chars/s compare directly.

    chars/s = (steps measured) x B x T / (rank 0's training seconds over those steps)

after ``--skip`` warm-up steps; validation is not counted (it runs once, at the end).  The rows run in
alternating rounds and the median of the rounds is reported, so a change in the machine's load hits
every row alike.  ``uptime``'s load average is printed before and after.

Usage::

    python benchmarks/torch_ddp.py                                   # CPU: 1x1, 1x2, 1x2p, 2x1 (processes x threads)
    python benchmarks/torch_ddp.py --rows 1x2 2x1 --rounds 5 --steps 60
    python benchmarks/torch_ddp.py --device cuda --rows 1x4 2x4 4x4  # GPUs: NCCL, one GPU a process

``1x2p`` runs the two-thread process with ``OMP_WAIT_POLICY=PASSIVE``: OpenMP's default spin-waiting
makes a two-thread process many times slower when the cores are busy with other work (every parallel
region waits a scheduler slice for its descheduled thread); passive waiting removes that.

The text is tiny-shakespeare (``$RNNLAB_DATA_DIR`` or downloaded) or ``--text FILE``.
Needs torch (``pip install 'rnnlab[torch]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# ---- the worker (one torchrun process) ------------------------------------------------------------------
def worker(args) -> int:
    import torch

    from rnnlab.backends.ddp import make_comm
    from rnnlab.backends.torch_train import train_charlm_torch
    from rnnlab.data import load_corpus
    from rnnlab.training import preset

    torch.set_num_threads(args.threads)
    comm = make_comm(args.device)
    corpus = load_corpus(args.text or "tinyshakespeare")
    config = preset(args.preset).replace(steps=args.skip + args.steps, minutes=None, eval_every=10**9,
                                         eval_max_chars=20_000, sample_length=0, warmup_steps=0,
                                         **({"hidden_size": args.hidden} if args.hidden else {}),
                                         **({"batch_size": args.batch} if args.batch else {}))
    seconds, cpu = {}, {}

    def on_event(event: dict) -> None:
        if event["kind"] == "step":
            seconds[event["step"]], cpu[event["step"]] = event["seconds"], time.process_time()

    with tempfile.TemporaryDirectory() as out:
        train_charlm_torch(config, corpus.text, out, on_event=on_event, corpus_name=corpus.name,
                           corpus_sha256=corpus.sha256, device=args.device, comm=comm)
    if comm.rank == 0:
        first, last = args.skip, args.skip + args.steps
        measured = seconds[last] - seconds[first]
        chars = args.steps * config.batch_size * config.seq_len
        result = {"chars_per_sec": chars / measured, "seconds_per_step": measured / args.steps,
                  "cpu_seconds_per_step": (cpu[last] - cpu[first]) / args.steps,
                  "processes": comm.world_size, "threads": args.threads, "config": config.to_dict()}
        Path(args.result).write_text(json.dumps(result))
    if hasattr(comm, "close"):
        comm.close()
    return 0


# ---- the launcher ---------------------------------------------------------------------------------------
def parse_row(row: str) -> tuple[int, int, bool]:
    """"2x1" -> (2 processes, 1 thread, spin-waiting OpenMP); "1x2p" -> OMP_WAIT_POLICY=PASSIVE."""
    passive = row.endswith("p")
    processes, threads = row.rstrip("p").split("x")
    return int(processes), int(threads), passive


def row_name(row: tuple[int, int, bool]) -> str:
    return f"{row[0]} x {row[1]}" + (" (OMP_WAIT_POLICY=PASSIVE)" if row[2] else "")


def launch(args, processes: int, threads: int, passive: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "result.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node",
                   str(processes), "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                   __file__, "--worker", "--result", str(result), "--threads", str(threads),
                   "--device", args.device, "--preset", args.preset, "--steps", str(args.steps),
                   "--skip", str(args.skip)]
        for flag in ("text", "hidden", "batch"):
            if getattr(args, flag):
                command += [f"--{flag}", str(getattr(args, flag))]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        if passive:
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.timeout)
        if done.returncode != 0 or not result.exists():
            raise SystemExit(f"torchrun {processes}x{threads} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return json.loads(result.read_text())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", nargs="+", default=["1x1", "1x2", "1x2p", "2x1"],
                   help="PROCESSESxTHREADS per row, a trailing p for OMP_WAIT_POLICY=PASSIVE "
                        "(default: 1x1 1x2 1x2p 2x1)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--preset", default="small", help="training preset (default small: LSTM 2x256, B 32, T 64)")
    p.add_argument("--hidden", type=int, help="override the hidden size")
    p.add_argument("--batch", type=int, help="override the global batch")
    p.add_argument("--steps", type=int, default=40, help="steps measured per launch")
    p.add_argument("--skip", type=int, default=5, help="warm-up steps not measured")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    p.add_argument("--text", help="a text file (default: tiny-shakespeare)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per launch")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)

    rows = [parse_row(row) for row in args.rows]
    print(f"load average before: {load_average()}  ({os.cpu_count()} cores, {platform.machine()})", flush=True)
    rates: dict[tuple, list[float]] = {row: [] for row in rows}
    cpu: dict[tuple, list[float]] = {row: [] for row in rows}
    config = None
    for round_ in range(args.rounds):
        for row in rows:
            result = launch(args, *row)
            config = result["config"]
            rates[row].append(result["chars_per_sec"])
            cpu[row].append(result["cpu_seconds_per_step"])
            print(f"round {round_ + 1}: {row_name(row)}: {result['chars_per_sec']:,.0f} chars/s  "
                  f"(load {load_average()})", flush=True)
    print(f"load average after: {load_average()}")
    c = config
    print(f"\n{c['cell'].upper()} {c['num_layers']}x{c['hidden_size']}, global batch {c['batch_size']} x window "
          f"{c['seq_len']}, float32, {args.device}, {args.steps} steps measured after {args.skip}, "
          f"median of {args.rounds} rounds\n")
    base = statistics.median(rates[rows[0]])
    print("| processes x threads | chars/s (median) | rounds | vs first row | CPU s / step (rank 0) |")
    print("|---|---:|---|---:|---:|")
    for row in rows:
        median = statistics.median(rates[row])
        runs = ", ".join(f"{r:,.0f}" for r in rates[row])
        print(f"| {row_name(row)} | {median:,.0f} | {runs} | {median / base:.2f}x | "
              f"{statistics.median(cpu[row]):.3f} |")
    print("\nCPU s / step is rank 0's process time (all its threads) per step: with one thread a process, the "
          "chars/s it would reach on a core of its own is about B T / (CPU s / step), whatever else runs.")
    for row in rows:
        if row[1] == 1 and not row[2]:
            c = statistics.median(cpu[row])
            print(f"  {row[0]} x 1: {config['batch_size'] * config['seq_len'] / c:,.0f} chars/s "
                  f"if each of the {row[0]} process(es) had a core of its own")
    return 0


if __name__ == "__main__":
    sys.exit(main())
