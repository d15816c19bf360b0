"""``rnnlab generate [MODEL]``: sample text from a character-level language model, streamed to stdout.

Without MODEL it uses the bundled default model.  The prompt is printed, then each character as it is
generated.  ``--show-probs`` prints one line per character instead: its probability, its surprisal
and the most likely alternatives.  The sampling itself is ``rnnlab.tasks.sampling`` (docs/sampling.md).
"""

from __future__ import annotations

HELP = "Generate text with a character-level language model (the bundled default model without MODEL)."


def add_arguments(p) -> None:
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="a char-LM checkpoint (.safetensors) or a run folder of `rnnlab train`; default: the bundled model")
    p.add_argument("--prompt", "-p", default="",
                   help="text to start from; the model reads it first (default: empty, the start of a text)")
    p.add_argument("--length", "-n", type=int, default=500, help="characters to generate (default: 500)")
    p.add_argument("--temperature", "-t", type=float, default=1.0,
                   help="> 0; below 1 is more conservative, above 1 more surprising (default: 1.0)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="draw only from the K most probable characters (default: all)")
    p.add_argument("--top-p", type=float, default=None, metavar="P",
                   help="draw only from the smallest set of most probable characters whose mass reaches P, "
                        "0 < P <= 1 (default: all)")
    p.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same text")
    p.add_argument("--greedy", action="store_true",
                   help="always take the most probable character (deterministic; ignores --seed)")
    p.add_argument("--show-probs", action="store_true",
                   help="one line per generated character: its probability, surprisal and the top 5 alternatives")


def load_model_or_explain(path):
    """The model at path (None: the bundled default), or a UserError that says what is wrong."""
    from rnnlab.cli.main import UserError
    from rnnlab.io import CheckpointError
    from rnnlab.tasks import charlm

    if path is None and not charlm.DEFAULT_MODEL_PATH.exists():
        raise UserError(f"no bundled default model yet ({charlm.DEFAULT_MODEL_PATH} does not exist); "
                        "pass a MODEL checkpoint, e.g. one made with `rnnlab train`")
    try:
        return charlm.load_model(path)
    except CheckpointError as e:
        raise UserError(str(e)) from None


def _describe(char: str) -> str:
    return repr(char)[1:-1] if char.isprintable() and char != " " else repr(char)


def run(args) -> int:
    import math
    import sys
    import time

    from rnnlab.cli.main import UserError
    from rnnlab.data.vocab import VocabError
    from rnnlab.tasks.sampling import stream

    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise UserError(f"--temperature must be a number > 0 (for greedy decoding use --greedy), got {args.temperature}")
    if args.length < 0:
        raise UserError(f"--length must be 0 or more, got {args.length}")
    if args.top_k is not None and args.top_k < 1:
        raise UserError(f"--top-k must be 1 or more, got {args.top_k}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise UserError(f"--top-p must lie in (0, 1], got {args.top_p}")
    model = load_model_or_explain(args.model)
    try:
        steps = stream(model, args.prompt, args.length, temperature=args.temperature, top_k=args.top_k,
                       top_p=args.top_p, seed=args.seed, greedy=args.greedy)
    except VocabError as e:
        raise UserError(f"the prompt has {e}") from None
    except ValueError as e:
        raise UserError(str(e)) from None

    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="backslashreplace")  # a terminal that cannot show a character gets its escape
    chars = model.vocab.chars
    start, count, surprisal, last = time.perf_counter(), 0, 0.0, args.prompt[-1:]
    try:
        if not args.show_probs:
            out.write(args.prompt)
            out.flush()
        for step in steps:
            count += 1
            surprisal += step.surprisal
            if args.show_probs:
                top = step.probs.argsort()[::-1][:5]
                alternatives = "  ".join(f"{_describe(chars[i]):>4} {step.probs[i]:.3f}" for i in top)
                out.write(f"{step.position:5d}  {_describe(step.char):>4}  p={step.probs[step.char_index]:.3f}  "
                          f"{step.surprisal:5.2f} bits  H={step.entropy:4.2f}  | {alternatives}\n")
            else:
                out.write(step.char)
                last = step.char
            out.flush()
        if not args.show_probs and last and last != "\n":
            out.write("\n")
        out.flush()
    except BrokenPipeError:  # `rnnlab generate | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    if sys.stderr.isatty() and count:
        seconds = time.perf_counter() - start
        print(f"[{count} characters in {seconds:.2f} s, {count / seconds:,.0f} chars/s, "
              f"mean surprisal {surprisal / count:.2f} bits/char]", file=sys.stderr)
    return 0
