"""The ``rnnlab`` command: a thin dispatcher over one module per subcommand.

Each module in ``COMMANDS`` defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``.  Modules import their heavy dependencies inside ``run`` so that
``rnnlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module (add a line here for a new subcommand)
COMMANDS: dict[str, str] = {
    "demo": "rnnlab.cli.demo",
    "forecast": "rnnlab.cli.forecast",
    "classify": "rnnlab.cli.classify",
    "label": "rnnlab.cli.label",
    "wordlm": "rnnlab.cli.wordlm",
    "train": "rnnlab.cli.train",
    "generate": "rnnlab.cli.generate",
    "eval": "rnnlab.cli.eval",
    "experiment": "rnnlab.cli.experiment",
    "serve": "rnnlab.cli.serve",
    "info": "rnnlab.cli.info",
}


class UserError(Exception):
    """An error caused by the user's input: printed as one clear line, exit code 2."""


def cell_with_article(cell: str) -> str:
    """The cell's name with its article: "an LSTM", "an RNN" (said letter by letter), "a GRU"."""
    return f"{'a' if cell.lower() == 'gru' else 'an'} {cell.upper()}"


def build_parser() -> argparse.ArgumentParser:
    from rnnlab import __version__

    parser = argparse.ArgumentParser(prog="rnnlab", description="A lab for recurrent neural networks.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except UserError as e:
        print(f"rnnlab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnnlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run through the package module so that UserError is the class the subcommands raise.
    from rnnlab.cli.main import main as _main

    sys.exit(_main())
