"""Where an engine training step spends its time: the phases of ``engine_vs_torch.py``'s step.

For each configuration, the same char-LM training step as the throughput benchmark, timed phase by
phase (recurrent forward, head and loss, recurrent backward, Adam), run the way
``rnnlab.training.fit`` runs it (inside ``step_threads``; glibc keeping freed memory unless
``--default-malloc``), with the minor page faults and the kernel (system) CPU time per step.

Usage::

    python benchmarks/engine_profile.py                          # every config, NumPy's BLAS threads
    python benchmarks/engine_profile.py --configs lstm-2x256 --threads 1
    python benchmarks/engine_profile.py --default-malloc         # see what the page faults cost
    python benchmarks/engine_profile.py --jit off                # the NumPy gate math instead of the kernels

Absolute times drift on shared machines; the shares are what to read.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_vs_torch import CONFIGS, EngineStep, V

from rnnlab.engine import jit
from rnnlab.engine.fused import step_threads
from rnnlab.engine.memory import keep_freed_memory
from rnnlab.engine.output import softmax_output_loss

PHASES = ("recurrent forward", "head + loss (fwd, bwd)", "recurrent backward", "Adam")


def profile(step: EngineStep, steps: int, warmup: int) -> dict:
    """Mean milliseconds per phase, page faults and system CPU seconds per step."""
    totals = dict.fromkeys(PHASES, 0.0)
    p = step.params
    for i in range(warmup + steps):
        if i == warmup:
            totals = dict.fromkeys(PHASES, 0.0)
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
        marks = [time.perf_counter()]
        with step_threads(step.x.shape[1]):
            out, _, cache = step.rnn.forward(step.x)  # (T, B, H)
            marks.append(time.perf_counter())
            head = softmax_output_loss(out, p["head.weight"], p["head.bias"], step.targets)
            marks.append(time.perf_counter())
            g = step.rnn.backward(cache, head.dh)
            marks.append(time.perf_counter())
            grads = {f"rnn.{k}": v for k, v in g.params.items()} | {"head.weight": head.dweight,
                                                                     "head.bias": head.dbias}
            step.opt.step(p, grads)
            marks.append(time.perf_counter())
        for name, a, b in zip(PHASES, marks, marks[1:]):
            totals[name] += b - a
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "ms": {k: 1000 * v / steps for k, v in totals.items()},
        "faults": (usage1.ru_minflt - usage0.ru_minflt) / steps,
        "sys_ms": 1000 * (usage1.ru_stime - usage0.ru_stime) / steps,
        "cpu_ms": 1000 * (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime) / steps,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of: {', '.join(CONFIGS)}")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per config (default 10)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: NumPy's)")
    ap.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc settings alone")
    ap.add_argument("--jit", choices=("on", "off"), default="on",
                    help="the compiled gate kernels (engine/jit.py) when numba is installed, or the NumPy gate math")
    args = ap.parse_args(argv)
    names = args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or args.steps < 1:
        print(f"error: unknown config(s) {unknown} or --steps < 1; configs: {list(CONFIGS)}", file=sys.stderr)
        return 2
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads, user_api="blas")
    kept = False if args.default_malloc else keep_freed_memory()
    with jit.use_jit(args.jit == "on"):
        kernels = jit.status()
    print(f"glibc keep_freed_memory: {'on' if kept else 'off'}; BLAS threads: {args.threads or 'default'}; "
          f"gate kernels: {kernels}")
    rng = np.random.default_rng(1)
    for name in names:
        cfg = CONFIGS[name]
        x = rng.integers(0, V, size=(cfg.steps, cfg.batch))  # (T, B)
        targets = rng.integers(0, V, size=(cfg.steps, cfg.batch))  # (T, B)
        with jit.use_jit(args.jit == "on"):
            r = profile(EngineStep(cfg, x, targets), args.steps, args.warmup)
        total = sum(r["ms"].values())
        print(f"\n{name}  B={cfg.batch} T={cfg.steps}: {total:.1f} ms a step, {cfg.batch * cfg.steps / total * 1000:,.0f} "
              f"chars/s; {r['faults']:,.0f} page faults and {r['sys_ms']:.1f} ms of kernel CPU a step "
              f"({r['cpu_ms']:.0f} ms CPU in all)")
        for phase, ms in r["ms"].items():
            print(f"  {phase:20s} {ms:8.2f} ms  {100 * ms / total:5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
