"""What the compiled gate kernels buy: the engine's training step with and without them (A/B).

The same char-LM training step as ``engine_vs_torch.py`` (forward, head and loss, backward, Adam;
float32, inside ``step_threads``, glibc keeping freed memory), run with the numba kernels of
``engine/jit.py`` and with the NumPy gate math, in alternating rounds within one process.  No
torch: the ratio is engine against engine, so it isolates the kernels' effect.

Usage::

    python benchmarks/engine_jit_ab.py                              # every config, 8 rounds
    python benchmarks/engine_jit_ab.py --configs lstm-1x128 --rounds 4
    OPENBLAS_NUM_THREADS=1 python benchmarks/engine_jit_ab.py        # one thread: no GIL contention

Needs numba (``pip install -e '.[fast]'``).  Results: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_vs_torch import CONFIGS, EngineStep, V, load_average, print_markdown_table

from rnnlab.engine import blas, jit
from rnnlab.engine.memory import keep_freed_memory


def ab(step: EngineStep, rounds: int, repeats: int) -> dict[bool, list[float]]:
    """Seconds per step with the kernels (True) and without (False), alternating rounds."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for on in (True, False):  # warm-up: compile or load the kernels, fill the caches
        with jit.use_jit(on):
            step()
            step()
    for r in range(rounds):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            with jit.use_jit(on):
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    step()
                    times[on].append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of: {', '.join(CONFIGS)}")
    ap.add_argument("--rounds", type=int, default=8, help="alternating rounds (default 8)")
    ap.add_argument("--repeats", type=int, default=2, help="timed steps per setting per round (default 2)")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table for RESULTS.md")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or args.rounds < 1 or args.repeats < 1:
        print(f"error: unknown config(s) {unknown} or --rounds/--repeats < 1; configs: {list(CONFIGS)}", file=sys.stderr)
        return 2
    if not jit.available():
        print(f"error: the kernels are {jit.status()}: pip install -e '.[fast]'", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    load_before = load_average()
    keep_freed_memory()
    rows = []
    rng = np.random.default_rng(0)
    for name in names:
        cfg = CONFIGS[name]
        x = rng.integers(0, V, size=(cfg.steps, cfg.batch))  # (T, B)
        targets = rng.integers(0, V, size=(cfg.steps, cfg.batch))  # (T, B)
        with console.status(f"{name} ..."):
            times = ab(EngineStep(cfg, x, targets), args.rounds, args.repeats)
        on, off = statistics.median(times[True]), statistics.median(times[False])
        chars = cfg.steps * cfg.batch
        rows.append([name, f"{cfg.batch}x{cfg.steps}", f"{chars / off:,.0f}", f"{chars / on:,.0f}", f"{off / on:.3f}x"])
    with jit.use_jit(True):
        status = jit.status()
    console.print(f"BLAS threads: {blas.threads()}; kernels: {status}; "
                  f"load average before: {load_before}; after: {load_average()}")
    header = ["config", "B x T", "NumPy gate math chars/s", "compiled kernels chars/s", "speed-up"]
    table = Table(title=f"engine training step, float32, median of {args.rounds} rounds x {args.repeats} steps")
    for h in header:
        table.add_column(h, justify="left" if h == "config" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if args.markdown:
        print()
        print_markdown_table(header, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
