"""Training-step throughput of ``rnnlab.engine`` against ``torch.nn.RNN/LSTM/GRU`` on the CPU.

One training step of a character-level language model, the same in both frameworks::

    x, targets (T, B) int in [0, V)  ->  one-hot (T, B, V)  ->  stacked RNN/LSTM/GRU (L x H)
      ->  linear head (T, B, V)  ->  softmax cross-entropy (mean)  ->  backward  ->  Adam step

Throughput is characters per second, ``T * B / (time of forward + backward + optimizer step)``.
Both run float32 with the same thread count (``torch.set_num_threads`` = NumPy's BLAS threads, read
with threadpoolctl when installed), in alternating rounds within one process; we report the medians
and their ratio.  The float32 matrix-multiply peak (square 2048 products, NumPy and torch) is
measured in the same run, and each framework's achieved model FLOP/s is given as a fraction of it.
The engine's step is run the way ``rnnlab.training.fit`` runs it: inside ``step_threads`` (BLAS
single-threaded while the engine's chunk threads use the cores) with ``keep_freed_memory`` on, a
process-wide glibc setting that torch's allocations in the same process get too.
On the CPU torch runs ``nn.LSTM`` (not GRU or RNN) through oneDNN's fused, JIT-compiled LSTM
primitive by default; ``--torch-onednn off`` measures torch's own ATen kernels instead.

Model FLOPs of one step (counted for dense matrix products, the same count for both frameworks;
the engine reads the one-hot input as a row gather, torch multiplies it)::

    forward   layer k: 2*T*B*G*H*(I_k + H)          head: 2*T*B*H*V
    backward  layer k: 2*T*B*G*H*(I_k + 2H) (+ 2*T*B*G*H*I_k for the input gradient when k > 0)
              head:    4*T*B*H*V

Usage::

    python benchmarks/engine_vs_torch.py                       # all configs, 7 rounds
    python benchmarks/engine_vs_torch.py --rounds 3 --configs lstm-1x128,rnn-1x256
    python benchmarks/engine_vs_torch.py --markdown            # also print a table for RESULTS.md
    python benchmarks/engine_vs_torch.py --torch-onednn off    # torch's ATen LSTM instead of oneDNN's
    python benchmarks/engine_vs_torch.py --jit off             # the engine's NumPy gate math, not numba's

Needs torch (``pip install torch==2.13.0``); rich for the table.  Results: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from rnnlab.engine import Adam, Recurrent, RecurrentConfig, jit, linear_init
from rnnlab.engine.fused import step_threads
from rnnlab.engine.memory import keep_freed_memory
from rnnlab.engine.output import softmax_output_loss

V = 65  # vocabulary size (tiny-shakespeare has 65 characters)


@dataclass(frozen=True)
class BenchConfig:
    cell: str  # "rnn" | "lstm" | "gru"
    num_layers: int  # L
    hidden_size: int  # H
    batch: int = 64  # B
    steps: int = 100  # T

    @property
    def name(self) -> str:
        return f"{self.cell}-{self.num_layers}x{self.hidden_size}"

    @property
    def gates(self) -> int:
        return {"rnn": 1, "lstm": 4, "gru": 3}[self.cell]

    def model_flops(self) -> float:
        """Dense matrix-product FLOPs of one training step (see the module docstring)."""
        T, B, H, G, L = self.steps, self.batch, self.hidden_size, self.gates, self.num_layers
        total = 0.0
        for k in range(L):
            i_k = V if k == 0 else H
            total += 2 * T * B * G * H * (i_k + H)  # forward
            total += 2 * T * B * G * H * (i_k + 2 * H)  # dW_ih, dW_hh, dh_prev
            if k > 0:
                total += 2 * T * B * G * H * i_k  # gradient of the layer's input
        total += 6 * T * B * H * V  # head: forward, dW, dh
        return total


CONFIGS = {
    c.name: c
    for c in (
        BenchConfig("lstm", 1, 128),
        BenchConfig("lstm", 2, 256),
        BenchConfig("lstm", 1, 512),
        BenchConfig("gru", 1, 256),
        BenchConfig("rnn", 1, 256),
    )
}


# ---- the two training steps ---------------------------------------------------------------------
class EngineStep:
    """rnnlab.engine: Recurrent (fused fast path unless impl="loop") + linear head + CE + Adam."""

    def __init__(self, cfg: BenchConfig, x: np.ndarray, targets: np.ndarray, impl: str = "fused"):
        rng = np.random.default_rng(0)
        rcfg = RecurrentConfig(cfg.cell, V, cfg.hidden_size, cfg.num_layers)
        self.rnn = Recurrent(rcfg, rng=rng, dtype=np.float32, impl=impl)
        weight, bias = linear_init(cfg.hidden_size, V, rng, np.float32)
        self.params = {f"rnn.{k}": v for k, v in self.rnn.params.items()} | {"head.weight": weight, "head.bias": bias}
        self.opt = Adam(lr=1e-3)
        self.x, self.targets = x, targets

    def __call__(self) -> float:
        with step_threads(self.x.shape[1]):  # BLAS single-threaded around the chunk threads
            return self._step()

    def _step(self) -> float:
        p = self.params
        out, _, cache = self.rnn.forward(self.x)  # (T, B, H)
        head = softmax_output_loss(out, p["head.weight"], p["head.bias"], self.targets)  # as tasks/charlm.py
        g = self.rnn.backward(cache, head.dh)
        grads = {f"rnn.{k}": v for k, v in g.params.items()} | {"head.weight": head.dweight, "head.bias": head.dbias}
        self.opt.step(p, grads)
        return head.loss


class TorchStep:
    """torch.nn.RNN/LSTM/GRU(input_size=V) fed one-hot characters + nn.Linear + cross_entropy + Adam."""

    def __init__(self, cfg: BenchConfig, x: np.ndarray, targets: np.ndarray):
        import torch

        self.torch = torch
        torch.manual_seed(0)
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cfg.cell]
        self.rnn = cls(input_size=V, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers)
        self.head = torch.nn.Linear(cfg.hidden_size, V)
        params = list(self.rnn.parameters()) + list(self.head.parameters())
        self.opt = torch.optim.Adam(params, lr=1e-3)
        self.x = torch.from_numpy(x.astype(np.int64))
        self.targets = torch.from_numpy(targets.astype(np.int64)).reshape(-1)

    def __call__(self) -> float:
        torch = self.torch
        onehot = torch.nn.functional.one_hot(self.x, V).float()  # (T, B, V)
        out, _ = self.rnn(onehot)  # (T, B, H)
        logits = self.head(out)  # (T, B, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), self.targets)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach().item()


# ---- the machine ------------------------------------------------------------------------------
def blas_info() -> dict:
    """NumPy's BLAS (and torch's OpenMP) as threadpoolctl sees them; {} when it is not installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    info = {}
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "blas" not in info:
            info["blas"] = pool
        elif pool.get("user_api") == "openmp":
            info.setdefault("openmp", pool)
    return info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def matmul_peak(n: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """Best float32 GFLOP/s of an (n, n) @ (n, n) product, NumPy and torch."""
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)  # (n, n)
    b = rng.standard_normal((n, n), dtype=np.float32)  # (n, n)
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    out = np.empty((n, n), np.float32)  # (n, n)
    tout = torch.empty((n, n))
    flops = 2.0 * n**3
    best_np = best_torch = float("inf")
    np.matmul(a, b, out=out)
    torch.matmul(ta, tb, out=tout)
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best_np = min(best_np, time.perf_counter() - t0)
        t0 = time.perf_counter()
        torch.matmul(ta, tb, out=tout)
        best_torch = min(best_torch, time.perf_counter() - t0)
    return flops / best_np / 1e9, flops / best_torch / 1e9


# ---- the run ----------------------------------------------------------------------------------
@dataclass
class Result:
    cfg: BenchConfig
    engine_times: list[float]
    torch_times: list[float]

    @property
    def chars(self) -> int:
        return self.cfg.steps * self.cfg.batch

    @property
    def engine_cps(self) -> float:
        return self.chars / statistics.median(self.engine_times)

    @property
    def torch_cps(self) -> float:
        return self.chars / statistics.median(self.torch_times)

    @property
    def ratio(self) -> float:
        return self.engine_cps / self.torch_cps

    @property
    def best_ratio(self) -> float:
        """Ratio of the fastest steps: on a shared machine, the closest to an unloaded one."""
        return min(self.torch_times) / min(self.engine_times)

    def spread(self, times: list[float]) -> float:
        """Half the interquartile range as a fraction of the median (a rough +-)."""
        if len(times) < 4:
            return float("nan")
        q = statistics.quantiles(times, n=4)
        return (q[2] - q[0]) / 2 / statistics.median(times)


def time_call(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def run(configs: list[BenchConfig], rounds: int, repeats: int, warmup: int, impl: str, progress=None) -> list[Result]:
    rng = np.random.default_rng(1)
    results = []
    pairs = []
    for cfg in configs:
        x = rng.integers(0, V, size=(cfg.steps, cfg.batch))  # (T, B)
        targets = rng.integers(0, V, size=(cfg.steps, cfg.batch))  # (T, B)
        engine, torch_step = EngineStep(cfg, x, targets, impl), TorchStep(cfg, x, targets)
        for _ in range(warmup):
            engine()
            torch_step()
        pairs.append((engine, torch_step))
        results.append(Result(cfg, [], []))
    task = progress.add_task("rounds", total=rounds * len(configs)) if progress else None
    for r in range(rounds):
        for (engine, torch_step), res in zip(pairs, results):
            # Alternate which framework goes first, so drift and cache warmth favour neither.
            order = [(engine, res.engine_times), (torch_step, res.torch_times)]
            for fn, sink in order if r % 2 == 0 else order[::-1]:
                gc.collect()
                time.sleep(0.02)  # let the other framework's worker threads stop spinning
                sink.extend(time_call(fn, repeats))
            if progress:
                progress.advance(task)
    return results


def thread_setup(threads: int | None) -> tuple[int, str]:
    """Give torch the same thread count as NumPy's BLAS; return (threads, how it was found)."""
    import torch

    info = blas_info()
    if threads is None:
        if "blas" in info:
            threads, how = info["blas"]["num_threads"], "threadpoolctl (NumPy BLAS)"
        else:
            threads, how = os.cpu_count() or 1, "os.cpu_count() (threadpoolctl not installed)"
    else:
        how = "--threads"
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads, user_api="blas")
        except ImportError:
            how += " (threadpoolctl not installed: NumPy's BLAS threads unchanged)"
    torch.set_num_threads(threads)
    return threads, how


def machine_lines(threads: int, how: str, peak_np: float, peak_torch: float, load_before: str,
                  memory_kept: bool) -> list[str]:
    import torch

    info = blas_info()
    blas = info.get("blas", {})
    blas_desc = (
        f"{blas.get('internal_api', '?')} {blas.get('version', '?')}, kernel {blas.get('architecture', '?')}, "
        f"{blas.get('num_threads', '?')} threads"
        if blas
        else "unknown (install threadpoolctl to see it)"
    )
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO"))}
    return [
        f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}, NumPy {np.__version__} (BLAS: {blas_desc}), torch {torch.__version__}",
        f"threads: {threads} for both (from {how}); torch.get_num_threads() = {torch.get_num_threads()}",
        f"thread-related environment: {env if env else 'none set'}",
        f"engine step: inside step_threads(B); glibc keep_freed_memory (both frameworks): {'on' if memory_kept else 'off'}",
        f"engine gate kernels (jit.py): {jit.status()}",
        f"torch oneDNN (mkldnn) kernels: {'on' if torch.backends.mkldnn.enabled else 'off'}",
        f"float32 matmul peak (2048^3, best of 5): NumPy {peak_np:.0f} GFLOP/s, torch {peak_torch:.0f} GFLOP/s",
        f"load average (1, 5, 15 min) before: {load_before}; after: {load_average()}",
    ]


def table_rows(results: list[Result], peak: float) -> list[list[str]]:
    rows = []
    for r in results:
        flops = r.cfg.model_flops()
        rows.append(
            [
                r.cfg.name,
                f"{r.cfg.batch}x{r.cfg.steps}",
                f"{r.engine_cps:,.0f}",
                f"{r.torch_cps:,.0f}",
                f"{r.ratio:.2f}x",
                f"{r.best_ratio:.2f}x",
                f"{flops * r.engine_cps / r.chars / 1e9 / peak:.0%}",
                f"{flops * r.torch_cps / r.chars / 1e9 / peak:.0%}",
                f"±{r.spread(r.engine_times):.0%} / ±{r.spread(r.torch_times):.0%}",
            ]
        )
    return rows


HEADER = ["config", "B x T", "engine chars/s", "torch chars/s", "ratio", "best/best", "engine % peak", "torch % peak",
          "spread e/t"]


def print_markdown_table(header: list[str], rows: list[list[str]]) -> None:
    """A table for RESULTS.md: the config column left-aligned, the numbers right-aligned."""
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if h == "config" else "---:" for h in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated subset of: {', '.join(CONFIGS)} (default: all)")
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    ap.add_argument("--repeats", type=int, default=2, help="timed training steps per framework per round (default 2)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per framework before the rounds (default 2)")
    ap.add_argument("--threads", type=int, default=None,
                    help="thread count for both (default: NumPy's BLAS threads as threadpoolctl reports them)")
    ap.add_argument("--impl", choices=("fused", "loop"), default="fused", help="engine implementation (default fused)")
    ap.add_argument("--markdown", action="store_true", help="also print the results as a Markdown table")
    ap.add_argument("--torch-onednn", choices=("on", "off"), default="on",
                    help="off: torch's own ATen RNN kernels instead of oneDNN's fused LSTM (torch uses oneDNN for "
                         "nn.LSTM on the CPU by default; its GRU and RNN do not use it either way)")
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave glibc's malloc settings alone (both frameworks then pay a page fault for every fresh "
                         "page of every step, as torch does when run on its own)")
    ap.add_argument("--jit", choices=("on", "off"), default="on",
                    help="off: the engine's NumPy gate math instead of the compiled kernels (default on when numba "
                         "is installed)")
    args = ap.parse_args(argv)

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        print(f"error: unknown config(s) {unknown}; choose from {list(CONFIGS)}", file=sys.stderr)
        return 2
    if args.rounds < 1 or args.repeats < 1 or args.warmup < 0:
        print("error: --rounds and --repeats must be >= 1, --warmup >= 0", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print("error: torch is needed for the comparison: pip install torch==2.13.0", file=sys.stderr)
        return 2
    torch.backends.mkldnn.enabled = args.torch_onednn == "on"
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console(width=max(Console().width, 130))
    if args.jit == "on" and not jit.available():
        console.print(f"note: the engine's gate kernels are {jit.status()}; pip install numba to use them")
    load_before = load_average()
    # as rnnlab.training.fit does; torch allocates through the same malloc, so it gets the setting too
    memory_kept = False if args.default_malloc else keep_freed_memory()
    threads, how = thread_setup(args.threads)
    peak_np, peak_torch = matmul_peak()
    with Progress(console=console, transient=True) as progress, jit.use_jit(args.jit == "on"):
        results = run([CONFIGS[n] for n in names], args.rounds, args.repeats, args.warmup, args.impl, progress)
    peak_np2, peak_torch2 = matmul_peak()  # again after the rounds: the machine may have changed
    peak_np, peak_torch = max(peak_np, peak_np2), max(peak_torch, peak_torch2)
    peak = max(peak_np, peak_torch)

    with jit.use_jit(args.jit == "on"):
        lines = machine_lines(threads, how, peak_np, peak_torch, load_before, memory_kept)
    for line in lines:
        console.print(line)
    table = Table(title=f"training step (fwd + bwd + Adam), float32, engine impl={args.impl}, "
                        f"median of {args.rounds} rounds x {args.repeats} steps")
    for h in HEADER:
        table.add_column(h, justify="left" if h == "config" else "right")
    rows = table_rows(results, peak)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"chars/s and ratio: medians; best/best: ratio of the fastest steps; "
                  f"% peak = median model FLOP/s / {peak:.0f} GFLOP/s (the higher matmul peak above); "
                  f"spread: half the interquartile range / median")
    if args.markdown:
        cmd = "python benchmarks/engine_vs_torch.py " + " ".join(argv if argv is not None else sys.argv[1:])
        print()
        print(f"Command: `{cmd.strip()}`")
        print()
        for line in lines:
            print(f"- {line}")
        print()
        print_markdown_table(HEADER, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
