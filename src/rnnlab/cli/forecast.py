"""``rnnlab forecast``: train RNN/LSTM/GRU forecasters on a real series and compare them with baselines.

Prints one table (one-step and K-step MAE, RMSE, MASE on the held-out tail for every network and
every baseline) and writes a PNG: the test tail against the forecasts, the recursive K-step path,
and how the error grows with the horizon.
"""

from __future__ import annotations

HELP = "Forecast a time series (sunspots, co2, nile, elnino, stocks or a CSV) with RNNs against baselines."


def add_arguments(p) -> None:
    p.add_argument("series", metavar="DATASET_OR_CSV",
                   help="sunspots | co2 | nile | elnino | stocks, or a CSV with a time column and value columns")
    p.add_argument("--cell", default="gru",
                   help="rnn, lstm, gru, a comma-separated list, or all (default: gru)")
    p.add_argument("--hidden", type=int, default=32, help="hidden units, 1-256 (default: 32)")
    p.add_argument("--layers", type=int, default=1, help="stacked layers, 1-3 (default: 1)")
    p.add_argument("--window", type=int, default=None, help="steps the network reads per forecast (default: per dataset)")
    p.add_argument("--horizon", type=int, default=None, help="steps of the recursive forecast (default: the season, or 8)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    p.add_argument("--steps", type=int, default=1000, help="at most this many training steps per network (default: 1000)")
    p.add_argument("--minutes", type=float, default=3.0, help="and at most this many minutes per network (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--arima", choices=["auto", "full", "small", "none"], default="auto",
                   help="ARIMA order grid searched by AIC, or none (default: auto)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of the series held out at the end (default: 0.2)")
    p.add_argument("--time-column", default=None, help="CSV: the time column (default: the first)")
    p.add_argument("--value-columns", default=None, help="CSV: comma-separated value columns (default: all numeric)")
    p.add_argument("--season", type=int, default=None, help="season length m for the seasonal naive baseline")
    p.add_argument("--difference", action="store_true", help="model first differences (for a trending series)")
    p.add_argument("--plot", default=None, help="PNG path (default: forecast-<series>.png; 'none' to skip)")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")


def parse_cells(text: str) -> list[str]:
    from rnnlab.cli.main import UserError

    cells = ["rnn", "lstm", "gru"] if text == "all" else [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in cells if c not in ("rnn", "lstm", "gru")]
    if bad or not cells:
        raise UserError(f"--cell must be rnn, lstm, gru, a comma-separated list of them, or all; got {text!r}")
    return cells


def run(args) -> int:
    from rnnlab.cli.main import UserError
    from rnnlab.data.optional import MissingDependencyError

    cells = parse_cells(args.cell)
    if not 1 <= args.hidden <= 256:
        raise UserError(f"--hidden must be between 1 and 256, got {args.hidden}")
    if not 1 <= args.layers <= 3:
        raise UserError(f"--layers must be between 1 and 3, got {args.layers}")
    if args.steps < 1 or args.minutes <= 0:
        raise UserError("--steps must be >= 1 and --minutes > 0")
    if args.horizon is not None and args.horizon < 1:
        raise UserError(f"--horizon must be >= 1, got {args.horizon}")
    try:
        return _run(args, cells)
    except MissingDependencyError as e:
        raise UserError(str(e)) from None


def _run(args, cells) -> int:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rnnlab.cli.main import UserError
    from rnnlab.data.timeseries import DATASETS, SeriesError, load_series, tail_split, with_options
    from rnnlab.tasks.forecast import ForecastConfig, compare

    console = Console(width=max(110, Console().width))  # tables stay readable when piped
    csv_options = {}
    if args.series not in DATASETS:
        csv_options = {"time_column": args.time_column, "season": args.season or 1, "difference": args.difference,
                       "value_columns": args.value_columns.split(",") if args.value_columns else None}
    try:
        series = load_series(args.series, **csv_options)
        changes = {}
        if args.series in DATASETS and args.season is not None:
            changes["season"] = args.season
        if args.difference:
            changes["difference"] = True
        if args.window is not None:
            changes["window"] = args.window
        series = with_options(series, **changes) if changes else series
        split = tail_split(series.length, test_fraction=args.test_fraction)
    except SeriesError as e:
        raise UserError(str(e)) from None
    configs = [ForecastConfig(cell=c, hidden_size=args.hidden, num_layers=args.layers, window=series.window, lr=args.lr)
               for c in cells]
    console.print(f"[bold]{escape(series.name)}[/]: {series.length} steps x {len(series.columns)} column(s); "
                  f"train {split.n_fit}, validation {split.n_train - split.n_fit}, test tail {split.n_test}; "
                  f"{series.source}" + (f"; {series.filled} gaps filled" if series.filled else ""))

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("val MSE {task.fields[val]}"), TimeElapsedColumn(), console=console)
    tasks = {c: progress.add_task(f"training {c.upper():4s}", total=args.steps, val="-") for c in cells}

    def on_eval(cell, record):
        progress.update(tasks[cell], completed=record["step"], val=f"{record['val']:.4f}")

    limit = _one_blas_thread()
    try:
        with progress, limit:
            report = compare(series, configs, horizon=args.horizon, seconds=args.minutes * 60, max_steps=args.steps,
                             seed=args.seed, arima=args.arima, split=split, on_eval=on_eval)
    except SeriesError as e:
        raise UserError(str(e)) from None
    console.print(report_table(report))
    for note in report.notes:
        console.print(f"note: {escape(note)}")
    console.print(verdict(report))
    if args.plot != "none":
        path = args.plot or f"forecast-{series.name}.png"
        plot_report(report, path)
        console.print(f"plot: {escape(str(path))}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_dict() | {"command": "rnnlab forecast", "seed": args.seed}, f, indent=2)
        console.print(f"numbers: {escape(str(args.json))}")
    return 0


def _one_blas_thread():
    """Small matrices run faster on one BLAS thread (ARIMA fits 10-20x on a busy 2-core machine)."""
    from rnnlab.tasks.sampling import one_blas_thread

    return one_blas_thread()


def report_table(report):
    from rich.table import Table

    K = report.horizon
    table = Table(title=f"{report.series.name}: test tail of {report.split.n_test} steps "
                        f"(MASE < 1: better than the naive forecast's in-sample error)")
    table.add_column("method", no_wrap=True)
    for col in ("1-step MAE", "1-step RMSE", "1-step MASE", f"{K}-step MAE", f"{K}-step MASE"):
        table.add_column(col, justify="right")
    best_one = min(m.one_step.mase for m in report.methods)
    best_multi = min(m.multi_step.mase for m in report.methods)
    for m in report.methods:
        one = f"{m.one_step.mase:.3f}"
        multi = f"{m.multi_step.mase:.3f}"
        table.add_row(m.name, f"{m.one_step.mae:.4g}", f"{m.one_step.rmse:.4g}",
                      f"[bold]{one}[/]" if m.one_step.mase == best_one else one,
                      f"{m.multi_step.mae:.4g}", f"[bold]{multi}[/]" if m.multi_step.mase == best_multi else multi)
    return table


def verdict(report) -> str:
    """For each metric: does the best network beat every baseline? And the network validation picks."""
    networks = [m for m in report.methods if m.train is not None]
    baselines = [m for m in report.methods if m.train is None]
    if not networks:
        return ""
    lines = []
    for label, key in (("one-step", "one_step"), (f"{report.horizon}-step", "multi_step")):
        best = min(networks, key=lambda m: getattr(m, key).mase)
        mine = getattr(best, key).mase
        beaten = [b.name for b in baselines if getattr(b, key).mase <= mine]
        if beaten:
            lines.append(f"{label}: the best network, {best.name} (MASE {mine:.3f}), does NOT beat {', '.join(beaten)}")
        else:
            lines.append(f"{label}: the best network, {best.name} (MASE {mine:.3f}), beats every baseline")
    if len(networks) > 1:
        chosen = min(networks, key=lambda m: m.train.best_val)
        wins = all(chosen.one_step.mase < b.one_step.mase for b in baselines)
        lines.append(f"chosen on validation (no peeking at the test tail): {chosen.name}, one-step MASE "
                     f"{chosen.one_step.mase:.3f}, " + ("beats every baseline in this table" if wins else "does not beat every baseline in this table"))
    return "\n".join(lines)


def plot_report(report, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series, split = report.series, report.split
    col = 0
    time = series.time
    colour = {m.name: f"C{i}" for i, m in enumerate(report.methods)}  # one colour per method in all panels
    fig, axes = plt.subplots(3, 1, figsize=(10, 10), constrained_layout=True)
    ax = axes[0]
    lo = max(0, split.n_train - 3 * split.n_test)
    ax.plot(time[lo:], series.values[lo:, col], color="black", lw=1.2, label="actual")
    ax.axvline(time[split.n_train], color="grey", ls=":", lw=1)
    shown = [m for m in report.methods if m.train is not None or m.name.startswith("ARIMA")]
    for m in shown:
        ax.plot(time[split.n_train :], m.one_step_forecast[:, col], lw=1, color=colour[m.name], label=f"{m.name} (MASE {m.one_step.mase:.3f})")
    column = series.columns[col]
    ax.set_title(f"{series.name}{'' if column == series.name else f' [{column}]'}: one-step forecasts of the test tail")
    ax.legend(fontsize=8)

    ax = axes[1]
    t0 = int(report.multi_origins[0])
    K = report.horizon
    lo = max(0, t0 - 3 * K)
    ax.plot(time[lo : t0 + K + 1], series.values[lo : t0 + K + 1, col], color="black", lw=1.2, label="actual")
    for m in shown + [m for m in report.methods if m.name == "last value"]:
        ax.plot(time[t0 + 1 : t0 + K + 1], m.path[:, col], lw=1, color=colour[m.name], label=m.name)
    ax.axvline(time[t0], color="grey", ls=":", lw=1)
    ax.set_title(f"recursive {K}-step forecast from the first test step (predictions fed back as inputs)")
    ax.legend(fontsize=8)

    ax = axes[2]
    steps = np.arange(1, K + 1)
    for m in report.methods:
        ax.plot(steps, m.mae_by_step, marker="o", ms=3, lw=1, color=colour[m.name], label=m.name)
    ax.set_xlabel("horizon step k")
    ax.set_ylabel("MAE")
    ax.set_title(f"error drift over the horizon (mean over {len(report.multi_origins)} test origins)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
