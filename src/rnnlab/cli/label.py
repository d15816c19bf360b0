"""``rnnlab label``: sequence labelling on real text: take the spaces out and tag where words begin.

Trains a character tagger and compares its per-step accuracy and boundary F1 with the majority tag
and with bigram/trigram lookup tables on the held-out last 10% of the text; shows a passage of the
test text re-segmented by the network.
"""

from __future__ import annotations

HELP = "Tag each character of a text (word boundaries with the spaces removed) with an RNN against lookup tables."


def add_arguments(p) -> None:
    p.add_argument("source", metavar="TEXT",
                   help="rotten_tomatoes, a text,label CSV (its texts), a corpus name (pydoc, tinyshakespeare) or a text file")
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="gru", help="recurrent cell (default: gru)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units, 1-512 (default: 64)")
    p.add_argument("--steps", type=int, default=3000, help="at most this many training steps (default: 3000)")
    p.add_argument("--minutes", type=float, default=5.0, help="and at most this many minutes (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--max-chars", type=int, default=2_000_000, help="use at most this many characters (default: 2,000,000)")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="save the trained tagger here (safetensors; the web page's is models/segmenter.safetensors)")
    p.add_argument("--half", action="store_true", help="with --out: store the weights as float16 (half the file)")


def load_texts(source: str, max_chars: int) -> list[str]:
    from pathlib import Path

    from rnnlab.cli.main import UserError
    from rnnlab.data.corpora import CorpusError, load_corpus
    from rnnlab.data.text_classification import TEXT_DATASETS, TextDataError, load_text_dataset

    try:
        if source in TEXT_DATASETS or Path(source).suffix.lower() == ".csv":
            texts = load_text_dataset(source).texts
        else:
            texts = load_corpus(source).text.split("\n")
    except (TextDataError, CorpusError) as e:
        raise UserError(str(e)) from None
    out, total = [], 0
    for t in texts:
        if total >= max_chars:
            break
        out.append(t)
        total += len(t) + 1
    return out


def run(args) -> int:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from rnnlab.cli.forecast import _one_blas_thread
    from rnnlab.cli.main import UserError
    from rnnlab.tasks.labelling import TaggerConfig, TaggingData, compare_taggers, insert_boundaries, save_tagger

    if not 1 <= args.hidden <= 512:
        raise UserError(f"--hidden must be between 1 and 512, got {args.hidden}")
    if args.steps < 1 or args.minutes <= 0:
        raise UserError("--steps must be >= 1 and --minutes > 0")
    console = Console(width=max(110, Console().width))
    try:
        data = TaggingData.from_texts(load_texts(args.source, args.max_chars))
    except ValueError as e:
        raise UserError(str(e)) from None
    console.print(f"[bold]{escape(args.source)}[/]: {len(data.train[0]) + len(data.val[0]) + len(data.test[0])} characters "
                  f"without whitespace, {len(data.vocab)} distinct; test part: the last {len(data.test[0])}")
    progress = Progress(TextColumn("training {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("val acc {task.fields[acc]}"), TimeElapsedColumn(), console=console)
    task = progress.add_task(args.cell.upper(), total=args.steps, acc="-")
    config = TaggerConfig(cell=args.cell, hidden_size=args.hidden)
    with _one_blas_thread(), progress:
        result = compare_taggers(data, config, seconds=args.minutes * 60, max_steps=args.steps, seed=args.seed,
                                 on_eval=lambda r: progress.update(task, completed=r["step"], acc=f"{r['val_accuracy']:.4f}"))
    table = Table(title="word boundaries, test part: per-step accuracy and F1 of the boundary tag")
    for col in ("method", "accuracy", "boundary F1", "precision", "recall"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, m in result["rows"].items():
        table.add_row(name, f"{m['accuracy']:.4f}", f"{m['boundary_f1']:.4f}", f"{m['precision']:.4f}", f"{m['recall']:.4f}")
    console.print(table)
    train = result["train"]
    console.print(f"network: {train.steps} steps in {train.seconds:.0f}s, best validation accuracy {train.best_val_accuracy:.4f}")
    console.print("[bold]test text re-segmented by the network:[/]")
    console.print(insert_boundaries(data.test_chars[:400], result["predicted"][:400]), markup=False)
    if args.out:
        save_tagger(args.out, train.model, data.vocab, half=args.half, source=args.source, seed=args.seed,
                    steps=train.steps, test=result["rows"])
        console.print(f"tagger saved: {args.out}", markup=False)
    if args.json:
        payload = {"command": "rnnlab label", "source": args.source, "seed": args.seed, "steps": train.steps,
                   "n_test": len(data.test[0]), "rows": result["rows"]}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
        console.print(f"numbers: {escape(str(args.json))}")
    return 0
