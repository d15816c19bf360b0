"""``rnnlab classify``: train an RNN text classifier on a ``text,label`` CSV and compare it with
bag-of-words logistic regression on the same split.

Prints the table (accuracy, macro F1, F1 of each class), both confusion matrices, and how the
network's confidence forms word by word on a few test texts (or on ``--explain TEXT``).
"""

from __future__ import annotations

HELP = "Classify texts (e.g. sentiment) with an RNN against bag-of-words logistic regression."


def add_arguments(p) -> None:
    p.add_argument("data", metavar="CSV", help="a CSV with text and label columns, or a registered dataset: rotten_tomatoes")
    p.add_argument("--level", choices=["word", "char"], default="word", help="read words or characters (default: word)")
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="gru", help="recurrent cell (default: gru)")
    p.add_argument("--embed", type=int, default=64, help="embedding size, 1-512 (default: 64)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units, 1-512 (default: 64)")
    p.add_argument("--pooling", choices=["last", "mean", "max"], default="last",
                   help="classify from the last state, the mean or the max of the states (default: last)")
    p.add_argument("--dropout", type=float, default=0.5, help="dropout on embeddings and pooled state (default: 0.5)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    p.add_argument("--epochs", type=float, default=10, help="at most this many passes over the training part (default: 10)")
    p.add_argument("--minutes", type=float, default=5.0, help="and at most this many minutes (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of the training (default: 0)")
    p.add_argument("--text-column", default="text", help="(default: text)")
    p.add_argument("--label-column", default="label", help="(default: label)")
    p.add_argument("--no-baseline", action="store_true", help="skip the logistic-regression baseline")
    p.add_argument("--explain", action="append", default=None, metavar="TEXT",
                   help="show the per-word confidence for this text (repeatable)")
    p.add_argument("--out", default=None, help="save the trained classifier to this .safetensors file")
    p.add_argument("--half", action="store_true", help="with --out: store the weights as float16 (half the file)")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")


def run(args) -> int:
    from rnnlab.cli.main import UserError
    from rnnlab.data.optional import MissingDependencyError

    for name, lo, hi in (("embed", 1, 512), ("hidden", 1, 512)):
        if not lo <= getattr(args, name) <= hi:
            raise UserError(f"--{name} must be between {lo} and {hi}, got {getattr(args, name)}")
    if not 0 <= args.dropout < 1:
        raise UserError(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.epochs <= 0 or args.minutes <= 0:
        raise UserError("--epochs and --minutes must be > 0")
    try:
        return _run(args)
    except MissingDependencyError as e:
        raise UserError(str(e)) from None


def _run(args) -> int:
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rnnlab.cli.forecast import _one_blas_thread
    from rnnlab.cli.main import UserError
    from rnnlab.data.text_classification import TextDataError, load_text_dataset, split_indices
    from rnnlab.tasks.classify import (
        ClassifierConfig,
        bag_of_words_baseline,
        classification_metrics,
        train_classifier,
    )

    console = Console(width=max(110, Console().width))  # tables stay readable when piped
    try:
        data = load_text_dataset(args.data, args.text_column, args.label_column)
        train_idx, val_idx, test_idx = split_indices(len(data), seed=args.seed)
    except TextDataError as e:
        raise UserError(str(e)) from None
    train, val, test = data.subset(train_idx), data.subset(val_idx), data.subset(test_idx)
    counts = ", ".join(f"{c} {int((data.labels == i).sum())}" for i, c in enumerate(data.classes))
    console.print(f"[bold]{escape(args.data)}[/]: {len(data)} texts ({counts}); train {len(train)}, validation {len(val)}, "
                  f"test {len(test)} (seed {args.seed})")
    config = ClassifierConfig(level=args.level, cell=args.cell, embed_size=args.embed, hidden_size=args.hidden,
                              pooling=args.pooling, dropout=args.dropout, lr=args.lr,
                              max_len=100 if args.level == "word" else 400)
    progress = Progress(TextColumn("training {task.description}"), BarColumn(), TextColumn("epoch {task.completed:.1f}"),
                        TextColumn("loss {task.fields[loss]}  val acc {task.fields[acc]}"), TimeElapsedColumn(),
                        console=console)
    task = progress.add_task(args.cell.upper(), total=args.epochs, loss="-", acc="-")

    def on_eval(record):
        progress.update(task, completed=record["epoch"], loss=f"{record['loss']:.3f}", acc=f"{record['val_accuracy']:.3f}")

    with _one_blas_thread():
        with progress:
            result = train_classifier(train, val, config, seconds=args.minutes * 60, max_epochs=args.epochs,
                                      seed=args.seed, on_eval=on_eval)
        model = result.model
        rows = [(f"{args.cell.upper()} ({args.level}, {args.pooling} state)", result.best_val_accuracy,
                 model.predict(test.texts))]
        baseline = None
        if not args.no_baseline:
            baseline = bag_of_words_baseline(train, val, test, args.level)
            rows.append((f"bag-of-words logistic regr. (C={baseline['C']})", baseline["val_accuracy"],
                         baseline["predictions"]))
    if len(test) == 0:
        raise UserError("the test part is empty")
    K = len(data.classes)
    results = [(name, val_acc, classification_metrics(test.labels, pred, K)) for name, val_acc, pred in rows]
    console.print(metrics_table(results, data.classes, len(test)))
    for name, _, m in results:
        console.print(confusion_table(name, m["confusion"], data.classes))
    console.print(f"network: {result.steps} steps ({result.epochs:.1f} epochs) in {result.seconds:.0f}s, "
                  f"vocabulary {len(model.encoder.vocab)}, best validation accuracy at step {result.best_step}")
    if baseline is not None:
        rnn, bow = results[0][2]["accuracy"], results[1][2]["accuracy"]
        points = abs(rnn - bow) * 100
        verdict = ("matches" if points < 0.05 else f"beats by {points:.1f} points" if rnn > bow
                   else f"is below by {points:.1f} points")
        console.print(f"test accuracy: the RNN ({rnn:.3f}) {verdict} bag-of-words logistic regression ({bow:.3f})")
    for text in args.explain or [test.texts[i] for i in range(min(2, len(test)))]:
        console.print(explain_table(model, text))
    if args.out:
        model.save(args.out, half=args.half, data=str(args.data), seed=args.seed,
                   test_accuracy=results[0][2]["accuracy"], epochs=result.epochs)
        console.print(f"model: {escape(str(args.out))}")
    if args.json:
        payload = {"command": "rnnlab classify", "data": str(args.data), "seed": args.seed, "n_test": len(test),
                   "classes": data.classes, "results": [{"name": n, "val_accuracy": v, **m} for n, v, m in results]}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
        console.print(f"numbers: {escape(str(args.json))}")
    return 0


def metrics_table(results, classes, n_test):
    from rich.table import Table

    table = Table(title=f"test part: {n_test} texts")
    table.add_column("method", no_wrap=True)
    table.add_column("val acc", justify="right")
    table.add_column("test acc", justify="right")
    table.add_column("macro F1", justify="right")
    for c in classes:
        table.add_column(f"F1 {c}", justify="right")
    for name, val_acc, m in results:
        table.add_row(name, f"{val_acc:.4f}", f"{m['accuracy']:.4f}", f"{m['macro_f1']:.4f}", *(f"{f:.4f}" for f in m["f1"]))
    return table


def confusion_table(name, confusion, classes):
    from rich.table import Table

    table = Table(title=f"{name}: confusion matrix (rows true, columns predicted)")
    table.add_column("")
    for c in classes:
        table.add_column(c, justify="right")
    for c, row in zip(classes, confusion):
        table.add_row(c, *map(str, row))
    return table


def explain_table(model, text):
    """The text's tokens coloured by the predicted class after each of them, with the confidence."""
    from rich.text import Text

    tokens, probs = model.step_probabilities(text)
    line = Text()
    for tok, p in zip(tokens, probs):
        k = int(p.argmax())
        colour = "blue" if k == 0 else "red" if k == 1 else "magenta"
        line.append(tok, style=f"bold {colour}" if p[k] > 0.75 else colour)
        line.append(f"[{p[0]:.2f}] ", style="dim")
    final = probs[-1]
    line.append(f"\n  -> {model.classes[int(final.argmax())]} ({final.max():.0%}); [p] = P({model.classes[0]}) "
                f"after each {'word' if model.config.level == 'word' else 'character'}")
    return line
