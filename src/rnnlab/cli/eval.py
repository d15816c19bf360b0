"""``rnnlab eval MODEL FILE``: how well a character model predicts a text, in nats and bits per character.

The mean cross-entropy of predicting each character of FILE from all the characters before it, the
file read as one continuous stream from the zero state (``CharLM.evaluate``; docs/sampling.md).
``--window`` changes the speed only, never the number.
"""

from __future__ import annotations

HELP = "Evaluate a character model on a text file: mean cross-entropy in nats and bits per character."

PROGRESS_MIN_CHARS = 20_000  # show a progress bar for files at least this long


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL", help="a char-LM checkpoint (.safetensors) or a run folder of `rnnlab train`")
    p.add_argument("file", metavar="FILE", help="the text file to evaluate on")
    p.add_argument("--encoding", default="utf-8", help="the file's text encoding (default: utf-8)")
    p.add_argument("--skip-unknown", action="store_true",
                   help="remove characters outside the model's vocabulary from the stream before reading it "
                        "(default: stop with an error naming them)")
    p.add_argument("--window", type=int, default=1024,
                   help="characters per forward call; the state is carried across windows, so this changes "
                        "speed and memory only, not the result (default: 1024)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args) -> int:
    import json
    import time

    from rich.console import Console

    from rnnlab.cli.generate import load_model_or_explain
    from rnnlab.cli.main import UserError
    from rnnlab.data.corpora import CorpusError, read_text_file
    from rnnlab.data.vocab import VocabError

    if args.window < 1:
        raise UserError(f"--window must be 1 or more, got {args.window}")
    model = load_model_or_explain(args.model)
    try:
        text = read_text_file(args.file, args.encoding).text
    except CorpusError as e:
        raise UserError(str(e)) from None

    err = Console(stderr=True)
    start = time.perf_counter()
    try:
        if len(text) >= PROGRESS_MIN_CHARS:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = (TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TextColumn("chars"),
                       TimeRemainingColumn())
            with Progress(*columns, console=err, transient=True) as bar:
                task = bar.add_task("eval", total=len(text))
                result = model.evaluate(text, skip_unknown=args.skip_unknown, window=args.window,
                                        progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = model.evaluate(text, skip_unknown=args.skip_unknown, window=args.window)
    except VocabError as e:
        raise UserError(f"{args.file}: {e} (pass --skip-unknown to remove them from the stream)") from None
    except ValueError as e:
        raise UserError(f"{args.file}: {e}") from None
    seconds = time.perf_counter() - start

    cfg = model.config
    if args.json:
        print(json.dumps({
            "model": args.model, "file": args.file, "nats_per_char": result.nats_per_char,
            "bits_per_char": result.bits_per_char, "perplexity": result.perplexity,
            "num_chars": result.num_chars, "skipped": result.skipped, "seconds": seconds,
        }))
        return 0
    skipped = f", {result.skipped} unknown skipped" if result.skipped else ""
    print(f"model          {args.model} ({cfg.cell} {cfg.num_layers}x{cfg.hidden_size}, {len(model.vocab)} characters)")
    print(f"file           {args.file} ({result.num_chars:,} characters predicted{skipped})")
    print(f"cross-entropy  {result.nats_per_char:.4f} nats/char  {result.bits_per_char:.4f} bits/char  "
          f"(perplexity {result.perplexity:.3f})")
    print(f"time           {seconds:.2f} s ({result.num_chars / seconds:,.0f} chars/s)")
    return 0
