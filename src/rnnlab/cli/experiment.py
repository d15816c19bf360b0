"""``rnnlab experiment memory``: long-range memory against lag, for each cell and remedy, in one command.

    rnnlab experiment memory --task first --cells rnn,lstm,gru --lags 5,10,20,50,100 --steps 1500
    rnnlab experiment memory --task adding --cells lstm,gru,rnn,irnn --lags 100 --minutes 10 --target 0.01

For every variant (a cell, optionally with ``+remedy`` suffixes, e.g. ``rnn+skip``) and every lag it
builds the model with the same seed, measures ||dL/dh_1|| at initialization (the task loss's gradient
at the first step), trains with the same seed and budget, and scores a held-out batch.  It prints two
tables (the metric against lag; ||dL/dh_1|| at init against lag), and writes a PNG plot and a JSON
file of every number.  ``irnn`` is the vanilla RNN with ReLU and identity initialization (Le et al.
2015).  ``--remedies`` adds remedies to every variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HELP = "Run a reproducible experiment (memory: long-range memory tasks against lag, per cell and remedy)."

CELL_NAMES = ("rnn", "lstm", "gru", "irnn")
REMEDIES = ("clip", "orthogonal", "identity", "forget-bias", "skip", "attention")
MAX_LAG = 1000


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    m = sub.add_parser("memory", help="accuracy (or MSE) against lag on a long-range memory task",
                       description=__doc__.split("\n\n")[0])
    m.add_argument("--task", choices=["first", "copy", "adding", "parity", "brackets"], default="first",
                   help="first: remember the first symbol; copy: a pattern after a gap; adding: the adding problem "
                        "(MSE); parity / brackets: answer after a lag (default: first)")
    m.add_argument("--cells", default="rnn,lstm,gru",
                   help="comma-separated variants: rnn, lstm, gru, irnn, each optionally with +remedy "
                        "(e.g. rnn+skip,lstm) (default: rnn,lstm,gru)")
    m.add_argument("--lags", default="5,10,20,50,100", help="comma-separated lags, 1-1000 (default: 5,10,20,50,100)")
    m.add_argument("--remedies", default="",
                   help=f"comma-separated remedies applied to every variant: {', '.join(REMEDIES)} (default: none)")
    m.add_argument("--steps", type=int, default=None, help="training steps per run (default: 1000 without --minutes)")
    m.add_argument("--minutes", type=float, default=None,
                   help="time budget per run in minutes, on --clock (default: no time budget)")
    m.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                   help="what --minutes counts: this process's CPU time, fair on a busy shared machine, or "
                        "wall-clock time (default: cpu)")
    m.add_argument("--target", type=float, default=None,
                   help="stop a run early once the held-out MSE <= target (adding) or accuracy >= target")
    m.add_argument("--seed", type=int, default=0, help="random seed for every run (default: 0)")
    m.add_argument("--hidden", type=int, default=64, help="hidden units, 1-512 (default: 64)")
    m.add_argument("--layers", type=int, default=1, help="stacked layers, 1-4 (default: 1)")
    m.add_argument("--batch", type=int, default=32, help="sequences per step, 1-1024 (default: 32)")
    m.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 0.001)")
    m.add_argument("--clip-kind", choices=["norm", "value"], default="norm",
                   help="the clip remedy clips the global norm or each value (default: norm)")
    m.add_argument("--clip-threshold", type=float, default=1.0, help="clipping threshold (default: 1.0)")
    m.add_argument("--skip-k", type=int, default=10, help="the skip remedy feeds h[t] by h[t-K] (default: 10)")
    m.add_argument("--attention-kind", choices=["dot", "additive"], default="dot",
                   help="the attention remedy's score (default: dot)")
    m.add_argument("--spectral-radius", type=float, default=None, help="rescale W_hh to this spectral radius")
    m.add_argument("--eval-every", type=int, default=100, help="steps between held-out evaluations (default: 100)")
    m.add_argument("--out", default=None,
                   help="PNG plot path (default: memory-<task>.png); a .json of every number is written beside it")


@dataclass(frozen=True)
class Variant:
    label: str
    cell: str
    nonlinearity: str = "tanh"
    init: str = "pytorch"
    remedies: tuple[str, ...] = field(default_factory=tuple)


def parse_variants(cells: str, remedies: str) -> list[Variant]:
    """'rnn,lstm+clip' and 'skip' -> Variants; raises ValueError with a clear message."""
    common = [r.strip() for r in remedies.split(",") if r.strip()]
    variants, seen = [], set()
    for item in (c.strip() for c in cells.split(",")):
        if not item:
            continue
        name, *own = [part.strip() for part in item.split("+")]
        if name not in CELL_NAMES:
            raise ValueError(f"unknown cell {name!r} in --cells (choose from {', '.join(CELL_NAMES)})")
        chosen = list(dict.fromkeys(own + common))
        unknown = [r for r in chosen if r not in REMEDIES]
        if unknown:
            raise ValueError(f"unknown remedy {unknown[0]!r} (choose from {', '.join(REMEDIES)})")
        init = "identity" if name == "irnn" else "pytorch"
        inits = [r for r in chosen if r in ("orthogonal", "identity")]
        if len(inits) > 1 or (name == "irnn" and "orthogonal" in inits):
            raise ValueError(f"{item}: choose one initialization (orthogonal or identity)")
        if inits:
            init = inits[0]
        label = "+".join([name] + chosen)
        if label in seen:
            continue
        seen.add(label)
        cell = "rnn" if name == "irnn" else name
        variants.append(Variant(label, cell, "relu" if name == "irnn" else "tanh", init, tuple(chosen)))
    if not variants:
        raise ValueError("--cells names no variant")
    return variants


def parse_lags(text: str) -> list[int]:
    try:
        lags = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--lags must be comma-separated integers, got {text!r}") from None
    if not lags or any(not 1 <= lag <= MAX_LAG for lag in lags):
        raise ValueError(f"--lags must be integers in [1, {MAX_LAG}], got {text!r}")
    return sorted(set(lags))


def run_one(task, variant: Variant, args, progress=None) -> dict:
    """Build, measure at init, train and score one variant on one task; returns a JSON-friendly dict."""
    import numpy as np

    from rnnlab.tasks.memory import ClipConfig, MemoryModel, MemoryModelConfig, TrainConfig, train

    r = set(variant.remedies)
    config = MemoryModelConfig(
        variant.cell, args.hidden, args.layers, variant.nonlinearity,
        residual="skip" in r and args.layers > 1, time_skip=args.skip_k if "skip" in r else 0,
        attention=args.attention_kind if "attention" in r else None,
    )
    init_options = {}
    if args.spectral_radius is not None:
        init_options["spectral_radius"] = args.spectral_radius
    if "forget-bias" in r and variant.cell == "lstm":
        init_options["forget_bias"] = 1.0
    model = MemoryModel(task, config, rng=np.random.default_rng(args.seed), init=variant.init, **init_options)
    probe = task.sample(64, np.random.default_rng(args.seed + 10_000))
    with np.errstate(over="ignore", invalid="ignore"):
        norms = model.hidden_gradient_norms(probe)[0]  # (T,) first layer
    clip = ClipConfig(args.clip_kind, args.clip_threshold) if "clip" in r else ClipConfig()
    steps = args.steps if args.steps is not None or args.minutes is not None else 1000
    train_config = TrainConfig(steps=steps, seconds=None if args.minutes is None else 60 * args.minutes,
                               clock=args.clock, batch_size=args.batch, lr=args.lr, clip=clip,
                               eval_every=args.eval_every,
                               target=args.target)
    result = train(model, train_config, np.random.default_rng(args.seed + 1), progress)
    metric = model.metric_name
    final = result.final.get(metric, float("nan"))
    best = (min if task.regression else max)((e[metric] for e in result.evals), default=float("nan"))
    return {
        **result.to_dict(),
        "variant": variant.label, "task": task.name, "lag": task.lag, "seq_len": task.seq_len,
        "metric": metric, "final": _num(final), "best": _num(best), "baseline": task.baseline,
        "grad_h1_init": _num(norms[0]), "grad_ratio_init": _num(norms[0] / norms[-1]) if norms[-1] > 0 else None,
        "grad_norms_init": [_num(v) for v in norms],
        "model": config.to_dict(), "init": variant.init, "params": model.num_params,
    }


def _num(v) -> float | None:
    import math

    v = float(v)
    return v if math.isfinite(v) else None


def run(args) -> int:
    from rnnlab.cli.main import UserError

    if args.experiment != "memory":  # argparse already restricts the choices
        raise UserError(f"unknown experiment {args.experiment!r}")
    try:
        variants = parse_variants(args.cells, args.remedies)
        lags = parse_lags(args.lags)
    except ValueError as e:
        raise UserError(str(e)) from None
    checks = [
        (1 <= args.hidden <= 512, f"--hidden must be between 1 and 512, got {args.hidden}"),
        (1 <= args.layers <= 4, f"--layers must be between 1 and 4, got {args.layers}"),
        (1 <= args.batch <= 1024, f"--batch must be between 1 and 1024, got {args.batch}"),
        (args.steps is None or args.steps >= 1, f"--steps must be at least 1, got {args.steps}"),
        (args.minutes is None or 0 < args.minutes <= 24 * 60, f"--minutes must be in (0, 1440], got {args.minutes}"),
        (args.lr > 0, f"--lr must be > 0, got {args.lr}"),
        (args.clip_threshold > 0, f"--clip-threshold must be > 0, got {args.clip_threshold}"),
        (args.skip_k >= 1, f"--skip-k must be at least 1, got {args.skip_k}"),
        (args.eval_every >= 1, f"--eval-every must be at least 1, got {args.eval_every}"),
        (args.spectral_radius is None or args.spectral_radius > 0, "--spectral-radius must be > 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    return run_memory(args, variants, lags)


def run_memory(args, variants: list[Variant], lags: list[int]) -> int:
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rnnlab.cli.main import UserError
    from rnnlab.data.memory_tasks import make_task

    try:
        tasks = {lag: make_task(args.task, lag) for lag in lags}
    except ValueError as e:
        raise UserError(str(e)) from None
    out = Path(args.out if args.out else f"memory-{args.task}.png")
    if out.suffix.lower() != ".png":
        raise UserError(f"--out must end in .png, got {out}")
    if not out.parent.exists():
        raise UserError(f"the folder of --out does not exist: {out.parent}")
    console = Console()
    budget = (f"{args.minutes:g} min ({args.clock} time)" if args.minutes is not None else "") + (
        f"{' / ' if args.minutes is not None else ''}{args.steps} steps" if args.steps is not None else "")
    console.print(f"[bold]memory experiment[/]: task {args.task}; "
                  f"variants {', '.join(v.label for v in variants)}; lags {lags}; "
                  f"budget {budget or '1000 steps'} per run; seed {args.seed}")
    results = []
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as bars:
        for variant in variants:
            for lag in lags:
                task = tasks[lag]
                total = args.steps if args.steps is not None else (None if args.minutes is not None else 1000)
                bar = bars.add_task(f"{variant.label:>18} lag {lag:>4}", total=total, info="")

                def progress(step, result, bar=bar):
                    if step % 10 == 0 or step == 1:
                        last = result.evals[-1]
                        metric = "mse" if "mse" in last else "accuracy"
                        info = f"step {step}  loss {result.losses[-1]:.4f}  held-out {metric} {last[metric]:.4f}"
                        bars.update(bar, completed=step, info=info)
                        if not console.is_terminal and step % (10 * args.eval_every) == 0:
                            console.print(f"  {variant.label} lag {lag}: {info}")  # a log line when piped

                row = run_one(task, variant, args, progress)
                status = "diverged" if row["diverged"] else (
                    f"target at {row['reached_target_at']}" if row["reached_target_at"] is not None else "")
                bars.update(bar, completed=row["steps"], total=row["steps"] or 1,
                            info=f"{row['metric']} {_fmt(row['final'])}  {row['steps']} steps {status}")
                results.append(row)
    console.print(metric_table(results, variants, lags))
    console.print(gradient_table(results, variants, lags))
    meta = {"command": "rnnlab experiment memory " + " ".join(_argv(args)), "results": results}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    plot(results, variants, lags, out, title=f"{args.task}: {tasks[lags[-1]].describe()}")
    console.print(f"plot: {escape(str(out))}   numbers: {escape(str(out.with_suffix('.json')))}")
    return 0


def _argv(args) -> list[str]:
    """The options that made this run, for the record (defaults included, so it can be re-run)."""
    parts = ["--task", args.task, "--cells", args.cells, "--lags", args.lags]
    if args.remedies:
        parts += ["--remedies", args.remedies]
    for flag, value in [("--steps", args.steps), ("--minutes", args.minutes), ("--target", args.target)]:
        if value is not None:
            parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.minutes is not None:
        parts += ["--clock", args.clock]
    parts += ["--seed", str(args.seed), "--hidden", str(args.hidden), "--layers", str(args.layers),
              "--batch", str(args.batch), "--lr", f"{args.lr:g}"]
    if args.spectral_radius is not None:
        parts += ["--spectral-radius", f"{args.spectral_radius:g}"]
    return parts


def _fmt(v) -> str:
    if v is None:
        return "nan"
    return f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}"


def _cell(results, label, lag):
    return next(r for r in results if r["variant"] == label and r["lag"] == lag)


def metric_table(results, variants, lags):
    from rich.table import Table

    first = results[0]
    name = "MSE (held-out, lower is better)" if first["metric"] == "mse" else "accuracy (held-out)"
    table = Table(title=f"{first['task']}: {name} against lag; chance/mean baseline {first['baseline']:.3f}")
    table.add_column("variant")
    for lag in lags:
        table.add_column(f"lag {lag}", justify="right")
    for v in variants:
        cells = []
        for lag in lags:
            r = _cell(results, v.label, lag)
            text = _fmt(r["final"])
            if r["diverged"]:
                text += " [red](diverged)[/]"
            elif r["reached_target_at"] is not None:
                text += f" [green]@{r['reached_target_at']}[/]"
            cells.append(text)
        table.add_row(v.label, *cells)
    return table


def gradient_table(results, variants, lags):
    from rich.table import Table

    table = Table(title="||dL/dh_1|| at initialization (per-sequence loss; in brackets: / ||dL/dh_T||)")
    table.add_column("variant")
    for lag in lags:
        table.add_column(f"lag {lag}", justify="right")
    for v in variants:
        cells = []
        for lag in lags:
            r = _cell(results, v.label, lag)
            ratio = r["grad_ratio_init"]
            cells.append(f"{_sci(r['grad_h1_init'])} ({_sci(ratio)})")
        table.add_row(v.label, *cells)
    return table


def _sci(v) -> str:
    return "inf" if v is None else f"{v:.1e}"


def _log_y_if_any_finite(ax) -> None:
    """A log y axis, or, when every run overflowed (nothing finite and positive to draw), a linear one
    that says so: matplotlib cannot log-scale an axis without data."""
    import numpy as np

    ys = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()]
    if any(((y > 0) & np.isfinite(y)).any() for y in ys):
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no finite values:\nevery run overflowed", transform=ax.transAxes, ha="center",
                va="center", color="#b91c1c")


def plot(results, variants, lags, path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = results[0]["metric"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax_metric, ax_grad, ax_curve = axes
    for v in variants:
        rows = [_cell(results, v.label, lag) for lag in lags]
        ys = [r["final"] if r["final"] is not None else float("nan") for r in rows]
        line, = ax_metric.plot(lags, ys, "o-", label=v.label)
        grads = [r["grad_h1_init"] or float("nan") for r in rows]
        ax_grad.plot(lags, grads, "o-", color=line.get_color(), label=v.label)
        longest = rows[-1]
        steps = [e["step"] for e in longest["evals"]]
        ax_curve.plot(steps, [e[metric] for e in longest["evals"]], "-", color=line.get_color(), label=v.label)
    baseline = results[0]["baseline"]
    for ax in (ax_metric, ax_curve):
        ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="mean predictor" if metric == "mse"
                   else "chance")
    ax_metric.set(xlabel="lag (steps)", ylabel=metric, title=f"held-out {metric} after training", xscale="log")
    ax_grad.set(xlabel="lag (steps)", ylabel="||dL/dh_1||", title="gradient reaching step 1, at initialization",
                xscale="log")
    ax_curve.set(xlabel="training step", ylabel=f"held-out {metric}", title=f"learning curves at lag {lags[-1]}")
    for ax in (ax_grad, ax_metric, ax_curve) if metric == "mse" else (ax_grad,):
        _log_y_if_any_finite(ax)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    for ax in (ax_metric, ax_grad):
        ax.set_xticks(lags, [str(lag) for lag in lags])
        ax.minorticks_off()
    ax_metric.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
