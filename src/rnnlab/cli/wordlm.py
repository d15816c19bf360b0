"""``rnnlab wordlm``: a word-level language model: train on a corpus, show the top-10 next words and
complete a prompt; validation perplexity against unigram and bigram models on the same tokens.
"""

from __future__ import annotations

HELP = "Train a word-level language model (or load one) and complete a prompt with the top-10 next words."


def add_arguments(p) -> None:
    p.add_argument("source", metavar="CORPUS_OR_MODEL",
                   help="a corpus (tinyshakespeare, pydoc, stdlib), a text file, or a saved word-LM .safetensors")
    p.add_argument("--prompt", default="the king", help="text to continue (default: 'the king')")
    p.add_argument("--words", type=int, default=30, help="words to generate, 1-500 (default: 30)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature > 0 (default: 0.8)")
    p.add_argument("--greedy", action="store_true", help="always take the most likely word")
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--embed", type=int, default=64, help="embedding size (default: 64)")
    p.add_argument("--hidden", type=int, default=128, help="hidden units (default: 128)")
    p.add_argument("--min-count", type=int, default=3, help="rarer training words become <unk> (default: 3)")
    p.add_argument("--steps", type=int, default=1000, help="at most this many training steps (default: 1000)")
    p.add_argument("--minutes", type=float, default=5.0, help="and at most this many minutes (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training and the sampling (default: 0)")
    p.add_argument("--out", default=None, help="save the trained model to this .safetensors file")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")


def run(args) -> int:
    import json
    import math

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from rnnlab.cli.forecast import _one_blas_thread
    from rnnlab.cli.main import UserError
    from rnnlab.data.corpora import CorpusError, load_corpus
    from rnnlab.io.checkpoint import CheckpointError
    from rnnlab.tasks.wordlm import WordData, WordLM, WordLMConfig, completion_text, ngram_baselines, train_wordlm

    if not 1 <= args.words <= 500:
        raise UserError(f"--words must be between 1 and 500, got {args.words}")
    if not args.greedy and args.temperature <= 0:
        raise UserError(f"--temperature must be > 0 (use --greedy for the most likely word), got {args.temperature}")
    if args.steps < 1 or args.minutes <= 0:
        raise UserError("--steps must be >= 1 and --minutes > 0")
    console = Console(width=max(110, Console().width))
    payload = {"command": "rnnlab wordlm", "source": args.source, "seed": args.seed}
    if str(args.source).endswith(".safetensors"):
        try:
            model = WordLM.load(args.source)
        except (CheckpointError, OSError) as e:
            raise UserError(str(e)) from None
    else:
        try:
            corpus = load_corpus(args.source)
            config = WordLMConfig(cell=args.cell, embed_size=args.embed, hidden_size=args.hidden, min_count=args.min_count)
            data = WordData.from_text(corpus.text, config)
        except (CorpusError, ValueError) as e:
            raise UserError(str(e)) from None
        console.print(f"[bold]{escape(args.source)}[/]: {len(data.train)} training and {len(data.val)} validation words "
                      f"(last 10%), vocabulary {len(data.vocab)} (words seen < {args.min_count} times are <unk>: "
                      f"{data.unknown_rate:.1%} of validation)")
        progress = Progress(TextColumn("training {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                            TextColumn("val perplexity {task.fields[ppl]}"), TimeElapsedColumn(), console=console)
        task = progress.add_task(args.cell.upper(), total=args.steps, ppl="-")
        with _one_blas_thread(), progress:
            result = train_wordlm(data, config, seconds=args.minutes * 60, max_steps=args.steps, seed=args.seed,
                                  on_eval=lambda r: progress.update(task, completed=r["step"], ppl=f"{r['perplexity']:.1f}"))
        model = result.model
        rows = {f"{args.cell.upper()} word LM": result.best_val} | ngram_baselines(data)
        table = Table(title="validation: nats per word and perplexity (lower is better)")
        for col in ("model", "nats/word", "perplexity"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for name, nats in rows.items():
            table.add_row(name, f"{nats:.4f}", f"{math.exp(nats):.1f}")
        console.print(table)
        console.print(f"network: {result.steps} steps in {result.seconds:.0f}s")
        payload |= {"steps": result.steps, "vocabulary": len(data.vocab), "unknown_rate": data.unknown_rate,
                    "validation_nats_per_word": rows}
        if args.out:
            model.save(args.out, corpus=str(args.source), validation_nats_per_word=result.best_val)
            console.print(f"model: {escape(str(args.out))}")
    top = model.next_words(args.prompt, 10)
    table = Table(title=f"top-10 next words after {args.prompt!r}")
    table.add_column("word")
    table.add_column("probability", justify="right")
    for word, p in top:
        table.add_row(repr(word) if word == "\n" else word, f"{p:.3f}")
    console.print(table)
    words = model.complete(args.prompt, args.words, args.temperature, seed=args.seed, greedy=args.greedy)
    console.print("[bold]completion:[/]")
    console.print(completion_text(args.prompt, words), markup=False)
    if args.json:
        payload |= {"prompt": args.prompt, "top10": top, "completion": words}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
        console.print(f"numbers: {escape(str(args.json))}")
    return 0
