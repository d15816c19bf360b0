"""Character-LM quality in a fixed wall-clock budget: the rnnlab recipe against a PyTorch LSTM reference.

    RNNLAB_DATA_DIR=/path/to/data python benchmarks/charlm_quality.py            # 5 minutes each
    python benchmarks/charlm_quality.py --minutes 1 --no-results                  # a quick look

On tiny-shakespeare (first 90% train, last 10% validation), each contender trains for the same budget
of training time (validation time is not counted, for either):

- rnnlab: ``rnnlab train tinyshakespeare --preset small --minutes M`` (the NumPy engine).
- PyTorch reference: ``nn.LSTM(V, 256, num_layers=2)`` + ``nn.Linear`` on one-hot characters, batch 64,
  windows of 100, the state carried across windows (the same ``StreamBatches``), Adam lr 2e-3
  (constant), gradient norm clipped to 5; ``torch.set_num_threads`` as given.

Both are validated by the same function (``training.charlm_task.evaluate_ids``: 32 contiguous
streams over the whole validation text from the zero state, the state carried), the PyTorch model
after copying its weights into a ``CharLM`` (same parameter names), every ``--eval-seconds`` of
training time.  Writes one table (stdout, and the charlm section of ``benchmarks/RESULTS.md``) and one
picture (``benchmarks/charlm_quality.png``).  The machine's load average is recorded: other work on a
shared machine slows both, in the order they ran.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SECTION_START = "<!-- section: charlm (benchmarks/charlm_quality.py) -->"


def load_data():
    from rnnlab.data import CharVocab, load_corpus, split_text

    corpus = load_corpus("tinyshakespeare")
    vocab = CharVocab.from_text(corpus.text)
    train, val = split_text(corpus.text)
    return corpus, vocab, vocab.encode(train), vocab.encode(val)


def run_rnnlab(minutes: float, eval_seconds: float, threads: int | None, preset_name: str, vocab, train_ids, val_ids,
               clock=time.perf_counter):
    """Train with the rnnlab recipe; the validation curve [(training seconds, nats)], chars/s, steps."""
    import tempfile

    from rnnlab.training import fit, preset
    from rnnlab.training.charlm_task import CharLMTask, new_model

    config = preset(preset_name).replace(minutes=minutes, steps=None, eval_every=10**9, sample_length=0)
    task = CharLMTask(new_model(config, vocab), train_ids, val_ids, config)
    curve: list[tuple[float, float]] = []
    next_eval = [eval_seconds]

    def on_event(event):  # runs between timed steps, so validation is not counted as training time
        if event["kind"] == "step" and event["seconds"] >= next_eval[0]:
            next_eval[0] += eval_seconds
            curve.append((event["seconds"], task.evaluate()["loss"]))
        elif event["kind"] == "eval":
            curve.append((event["seconds"], event["val_loss"]))

    t_start = time.perf_counter()
    with _blas_threads(threads), tempfile.TemporaryDirectory() as out:
        result = fit(task, config, out, on_event=on_event, clock=clock)
    return {"name": f"rnnlab `{preset_name}` preset ({config.cell.upper()} {config.num_layers}x{config.hidden_size}, "
                    f"batch {config.batch_size}, window {config.seq_len}, lr {config.lr:g} cosine)",
            "curve": sorted(set(curve)), "chars_per_sec": result.step * task.items_per_step / result.seconds,
            "steps": result.step, "wall": time.perf_counter() - t_start, "final": result.last_val_loss}


def run_torch(minutes: float, eval_seconds: float, threads: int | None, vocab, train_ids, val_ids,
              clock=time.perf_counter):
    import torch

    from rnnlab.data import StreamBatches
    from rnnlab.tasks.charlm import CharLM
    from rnnlab.training.charlm_task import evaluate_ids

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    V, H, L, B, T = len(vocab), 256, 2, 64, 100
    rnn, head = torch.nn.LSTM(V, H, num_layers=L), torch.nn.Linear(H, V)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    batches = StreamBatches(train_ids, B, T, seed=0)

    def validate() -> float:
        state_dict = {f"rnn.{k}": v for k, v in rnn.state_dict().items()}
        state_dict |= {f"head.{k}": v for k, v in head.state_dict().items()}
        model = CharLM.from_torch_state_dict(state_dict, vocab, "lstm")
        return evaluate_ids(model, val_ids, streams=32, seq_len=100)["loss"]

    budget, seconds, next_eval, steps, curve, state = 60.0 * minutes, 0.0, eval_seconds, 0, [], None
    t_start = time.perf_counter()
    for window in batches:
        if seconds >= budget:
            break
        t0 = clock()
        x = torch.nn.functional.one_hot(torch.from_numpy(window.x), V).float()  # (T, B, V)
        y = torch.from_numpy(window.y)  # (T, B)
        if window.reset:
            state = None
        out, (h, c) = rnn(x, state)
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        state = (h.detach(), c.detach())
        steps += 1
        seconds += clock() - t0
        if seconds >= next_eval:
            next_eval += eval_seconds
            with torch.no_grad():
                curve.append((seconds, validate()))
    with torch.no_grad():
        curve.append((seconds, validate()))
    return {"name": "PyTorch reference (LSTM 2x256, batch 64, window 100, Adam 2e-3, clip 5)",
            "curve": sorted(set(curve)), "chars_per_sec": steps * B * T / seconds, "steps": steps,
            "wall": time.perf_counter() - t_start, "final": curve[-1][1]}


class _blas_threads:
    def __init__(self, n):
        self.n, self.ctx = n, None

    def __enter__(self):
        if self.n:
            from threadpoolctl import threadpool_limits

            self.ctx = threadpool_limits(self.n, "blas")
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.unregister()


def value_at(curve, seconds):
    """The last validation at or before ``seconds`` of training (None before the first)."""
    done = [v for s, v in curve if s <= seconds + 1e-6]
    return done[-1] if done else None


def table(results, minutes: float, clock: str = "wall") -> str:
    marks = sorted({round(minutes * f, 2) for f in (0.2, 0.4, 0.6, 0.8)} | {minutes})
    head = f"| {'training time' if clock == 'wall' else 'CPU time'} | " + " | ".join(r["name"] for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for m in marks:
        cells = []
        for r in results:
            v = value_at(r["curve"], 60 * m) if m < minutes else r["final"]
            cells.append("–" if v is None else f"{v:.3f}")
        lines.append(f"| {m:g} min | " + " | ".join(cells) + " |")
    rate = "chars/s (training)" if clock == "wall" else "chars per CPU-second"
    lines.append(f"| {rate} | " + " | ".join(f"{r['chars_per_sec']:,.0f}" for r in results) + " |")
    lines.append("| steps | " + " | ".join(f"{r['steps']:,}" for r in results) + " |")
    return "\n".join(lines)


def plot(results, path: Path, minutes: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    for r, colour in zip(results, ["#2171b5", "#cb181d", "#238b45"]):
        ax.plot([s / 60 for s, _ in r["curve"]], [v for _, v in r["curve"]], "o-", color=colour, markersize=3,
                label=f"{r['name']}: {r['final']:.3f}")
    ax.axhline(1.50, color="grey", linestyle="--", linewidth=1, label="target 1.50")
    ax.set_xlabel("training time (minutes, validation excluded)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.set_title(f"tiny-shakespeare, {minutes:g} minutes each")
    ax.set_ylim(1.3, 3.0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, bbox_inches="tight")


SECTION_TITLE = "## Character-level LM quality in a fixed wall-clock budget (issue 3)"


def write_results(path: Path, run_name: str, text: str) -> None:
    """Replace this run's block (``<!-- charlm-run: NAME -->``) in the charlm section, keeping the others."""
    content = path.read_text(encoding="utf-8")
    start = content.index(SECTION_START) + len(SECTION_START)
    nxt = content.find("<!-- section:", start)
    end = len(content) if nxt < 0 else nxt
    blocks = dict(re.findall(r"<!-- charlm-run: (\S+) -->\n(.*?)<!-- /charlm-run -->", content[start:end], re.S))
    blocks[run_name] = text.rstrip() + "\n"
    body = "".join(f"<!-- charlm-run: {k} -->\n{v}<!-- /charlm-run -->\n\n" for k, v in sorted(blocks.items()))
    intro = (f"{SECTION_TITLE}\n\nThe rnnlab `small` preset (`rnnlab train tinyshakespeare`) against a PyTorch LSTM "
             "reference, each trained for the same budget; target: <= 1.50 nats/char after 5 minutes on 2 cores. "
             "Each block is one run of the command it names (`benchmarks/charlm_quality.py`).")
    path.write_text(content[:start] + "\n" + intro + "\n\n" + body + content[end:], encoding="utf-8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=5.0, help="training-time budget for each (default: 5)")
    p.add_argument("--eval-seconds", type=float, default=30.0, help="validate every this many training seconds")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="budget in wall-clock seconds (default) or in the process's CPU seconds (all threads "
                        "summed: a measure that does not depend on other work on a shared machine)")
    p.add_argument("--threads", type=int, default=None, help="BLAS / torch threads (default: library default)")
    p.add_argument("--preset", default="small", help="the rnnlab preset to run (default: small)")
    p.add_argument("--skip-torch", action="store_true", help="run only rnnlab")
    p.add_argument("--png", type=Path, default=HERE / "charlm_quality.png")
    p.add_argument("--no-results", action="store_true", help="do not write benchmarks/RESULTS.md")
    args = p.parse_args(argv)
    if not args.png.is_absolute() and args.png.parent == Path("."):
        args.png = HERE / args.png  # a bare file name goes beside RESULTS.md

    corpus, vocab, train_ids, val_ids = load_data()
    loads = [os.getloadavg()]
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    results = [run_rnnlab(args.minutes, args.eval_seconds, args.threads, args.preset, vocab, train_ids, val_ids, clock)]
    loads.append(os.getloadavg())
    if not args.skip_torch:
        results.append(run_torch(args.minutes, args.eval_seconds, args.threads, vocab, train_ids, val_ids, clock))
        loads.append(os.getloadavg())
    plot(results, args.png, args.minutes)
    tab = table(results, args.minutes, args.clock)
    print(tab)
    load_text = ", ".join(f"{a:.1f}" for a, _, _ in loads)
    busy = max(a for a, _, _ in loads) > 2.5
    note = (f"Load average (1 min) before / between / after the runs: {load_text} on {os.cpu_count()} cores"
            + (" — **the machine was shared with other work, so both ran slower than on an idle machine**"
               if busy else "") + ".")
    print(note)
    if not args.no_results:
        import torch

        run_name = f"{args.clock}-{args.minutes:g}min"
        budget = ("wall-clock training time" if args.clock == "wall"
                  else "CPU time of the process (all threads summed), which other work on the machine does not eat")
        command = (f"python benchmarks/charlm_quality.py --minutes {args.minutes:g} --clock {args.clock}"
                   + (f" --threads {args.threads}" if args.threads else "") + f" --png {args.png.name}")
        text = (f"### Budget: {args.minutes:g} minutes of {budget}\n\n"
                f"`{command}` ({time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, "
                f"{args.threads or 'default'} BLAS/torch threads, NumPy {np.__version__}, torch {torch.__version__}). "
                f"Validation nats per character on tiny-shakespeare (last 10%), the same evaluation for both "
                f"(32 contiguous streams from the zero state, state carried), validation time not counted.\n\n"
                f"{tab}\n\n{note}\n\n![validation loss over time]({args.png.name})\n")
        write_results(HERE / "RESULTS.md", run_name, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
