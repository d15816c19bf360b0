"""``rnnlab train``: train a character-level language model on a named corpus or any text file.

    rnnlab train tinyshakespeare --preset small --minutes 5
    rnnlab train my_notes.txt --cell gru --hidden 128 --steps 2000 --out runs/notes
    rnnlab train --config configs/default.toml            # a recipe file (the bundled model's)
    rnnlab train --resume runs/notes                      # continue exactly where it stopped

Shows a progress bar (loss, bits per character, characters per second, gradient norm), validates
every ``eval_every`` steps (nats and bits per character, a short sample), and writes the run folder:
``model.safetensors`` (best), ``last.resume.safetensors``, ``metrics.jsonl``, ``loss.png``.
Ctrl-C saves a resumable checkpoint.  Exit codes: 0 done, 1 NaN loss or failed save, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

HELP = "Train a character-level language model on a corpus or a text file."


def add_arguments(p) -> None:
    from rnnlab.training.flags import add_config_flags

    p.add_argument("corpus", nargs="?", metavar="FILE_OR_CORPUS",
                   help="a text file, or a named corpus: tinyshakespeare, pydoc, stdlib (files are read from "
                        "$RNNLAB_DATA_DIR, tinyshakespeare is downloaded if missing)")
    p.add_argument("--preset", choices=["tiny", "small", "default"], default=None,
                   help="named configuration (default: small); the flags below override it")
    p.add_argument("--config", metavar="FILE", help="a recipe file (.toml or .json) with a [train] table of "
                   "configuration keys and optionally corpus = ...; flags override it")
    add_config_flags(p)
    p.add_argument("--out", metavar="PATH", help="run folder (default: runs/<corpus>-<date-time>)")
    p.add_argument("--resume", metavar="PATH", help="continue a run: its folder or its last.resume.safetensors")
    p.add_argument("--encoding", default="utf-8", help="text encoding of FILE (default: utf-8)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="BLAS threads (default: the library's choice; 1 is faster on a machine busy with other work)")
    p.add_argument("--quiet", action="store_true", help="no progress bar; print validations only")
    p.add_argument("--backend", choices=["numpy", "torch"], default="numpy",
                   help="numpy: rnnlab's engine (default); torch: PyTorch (pip install 'rnnlab[torch]'), same files")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the torch backend trains")


def read_recipe(path) -> tuple[dict, str | None]:
    """A recipe file -> (configuration keys, corpus or None)."""
    import json
    import tomllib
    from pathlib import Path

    from rnnlab.cli.main import UserError

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read the recipe ({e.strerror})") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a valid recipe file ({e})") from None
    unknown = sorted(set(data) - {"train", "corpus", "preset", "description"})
    if unknown:
        raise UserError(f"{path}: unknown top-level keys {unknown}; expected train, corpus, preset, description")
    return data, data.get("corpus")


def build_config(args):
    from rnnlab.cli.main import UserError
    from rnnlab.training import ConfigError, TrainConfig, preset
    from rnnlab.training.flags import config_overrides

    recipe, corpus = ({}, None) if not args.config else read_recipe(args.config)
    try:
        config = preset(args.preset or recipe.get("preset") or "small")
        if recipe.get("train"):
            config = TrainConfig.from_dict({**config.to_dict(), **recipe["train"]})
        overrides = config_overrides(args)
        return config.replace(**overrides), corpus
    except ConfigError as e:
        raise UserError(str(e)) from None


def run(args) -> int:
    import sys
    import time
    from pathlib import Path

    from rich.console import Console
    from rich.markup import escape

    from rnnlab.cli.main import UserError
    from rnnlab.data import CorpusError, load_corpus
    from rnnlab.training import TrainingError, read_resume, train_charlm

    console = Console(stderr=False)
    config, recipe_corpus = build_config(args)
    source = args.corpus or recipe_corpus
    out = args.out
    if args.resume:
        try:
            _, meta = read_resume(args.resume)
        except TrainingError as e:
            raise UserError(str(e)) from None
        source = source or meta.get("corpus", {}).get("name")
        resume_dir = Path(args.resume) if Path(args.resume).is_dir() else Path(args.resume).parent
        out = out or str(resume_dir)
        # the run's saved configuration is used; only an explicit --steps or --minutes changes its budget
        if args.steps is None and args.minutes is None:
            config = None
    if not source:
        raise UserError("name a text file or a corpus (tinyshakespeare, pydoc, stdlib), or pass --resume")
    try:
        corpus = load_corpus(source, encoding=args.encoding, progress=_download_progress(console))
    except CorpusError as e:
        raise UserError(str(e)) from None
    if out is None:
        stem = Path(corpus.name).stem or "text"
        out = str(Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")

    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    if args.backend == "torch":  # several processes: torchrun ... -m rnnlab.backends.ddp (docs/scale_out.md)
        from rnnlab.backends import BackendError, torch_trainer

        try:
            train_charlm = torch_trainer(args.device, threads=args.threads)
        except BackendError as e:
            raise UserError(str(e)) from None
    elif args.device != "cpu":
        raise UserError("--device cuda needs --backend torch (the NumPy engine runs on the CPU)")
    view = TrainView(console, quiet=args.quiet)
    if args.backend != "torch" and not args.quiet:
        from rnnlab.engine import jit

        # A run big enough to use them loads them now, with a word: the first run compiles them (~6 s).
        # (config is None on --resume: the saved one is read later, so load them to be sure.)
        big = config is None or config.seq_len * config.batch_size * config.hidden_size >= jit.MIN_WORK
        if jit.enabled_by_environment() and big:
            with console.status("loading the engine's compiled gate kernels (compiled on the first run)"):
                ready = jit.available()
            if not ready:
                console.print("tip: pip install 'rnnlab[fast]' (numba) compiles the engine's gate math: "
                              "LSTM steps 3-25% faster (benchmarks/RESULTS.md)", style="dim", markup=False)
    try:
        with view, _blas_threads(args.threads):
            result = train_charlm(config, corpus.text, out, on_event=view.on_event, resume=args.resume,
                                  corpus_name=corpus.name, corpus_sha256=corpus.sha256)
    except TrainingError as e:
        message = str(e)
        if message.startswith(("cannot resume", corpus.name)) or "too short" in message or "is empty" in message:
            raise UserError(message) from None
        print(f"rnnlab train: error: {message}", file=sys.stderr)
        return 1
    if result.reason == "nan":
        print(f"rnnlab train: error: {result.message}", file=sys.stderr)
        return 1
    if result.reason == "interrupted":
        print(f"rnnlab train: {result.message}\n  continue with: rnnlab train --resume {out}", file=sys.stderr)
        return 130
    console.print(f"[bold green]done[/]: {escape(result.message)}")
    console.print(f"  model      {result.model_path}\n  loss curve {Path(out) / 'loss.png'}\n"
                  f"  metrics    {Path(out) / 'metrics.jsonl'}\n  try it     rnnlab generate {result.model_path}",
                  markup=False)
    return 0


def _blas_threads(n):
    """Limit BLAS to n threads for the run (threadpoolctl); no limit when n is None."""
    from contextlib import nullcontext

    if n is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(n, "blas")


def _download_progress(console):
    state = {}

    def progress(done: int, total: int | None) -> None:
        if "bar" not in state:
            from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

            state["bar"] = Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                                    console=console, transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task("downloading", total=total)
        state["bar"].update(state["task"], completed=done)
        if total is not None and done >= total:
            state["bar"].stop()

    return progress


class TrainView:
    """Renders the loop's events: a rich progress bar, validation lines, samples."""

    def __init__(self, console, quiet: bool = False):
        self.console, self.quiet = console, quiet
        self.progress = None
        self.task = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                     TimeElapsedColumn(), TextColumn("{task.fields[stats]}"), console=self.console)
            self.progress.start()
            self.task = self.progress.add_task("training", total=1000, stats="")
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()

    def print(self, *a, **kw):
        (self.progress.console if self.progress else self.console).print(*a, **kw)

    def on_event(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "start":
            from rich.markup import escape

            from rnnlab.cli.main import cell_with_article

            c, corpus = event["config"], event.get("corpus", {})
            budget = f"{c['steps']} steps" if c["steps"] is not None else f"{c['minutes']:g} minutes"
            if c["steps"] is not None and c["minutes"] is not None:
                budget = f"{c['steps']} steps or {c['minutes']:g} minutes"
            self.print(f"[bold]{'resuming' if event['resumed'] else 'training'}[/] {cell_with_article(c['cell'])} "
                       f"{c['num_layers']}x{c['hidden_size']} on {escape(str(corpus.get('name')))} ({corpus.get('chars', 0):,} "
                       f"characters, last {c['val_fraction']:.0%} for validation), batch {c['batch_size']} x "
                       f"window {c['seq_len']}, lr {c['lr']:g} ({c['schedule']}), budget {budget}")
        elif kind == "step" and self.progress is not None:
            stats = (f"step {event['step']}  loss {event['loss']:.3f}  {event['bpc']:.3f} bpc  "
                     f"{event['items_per_sec']:,.0f} chars/s  |g| {event['grad_norm']:.2f}")
            self.progress.update(self.task, completed=1000 * event["progress"], stats=stats)
        elif kind == "eval":
            mark = " [green]* best[/]" if event["best"] else ""
            self.print(f"step {event['step']:>6}  validation {event['val_loss']:.4f} nats/char "
                       f"({event['val_bpc']:.3f} bits/char){mark}")
        elif kind == "sample":
            from rich.text import Text

            self.print(Text("  " + event["text"].replace("\n", "\n  "), style="dim italic"))
