"""The training flags that ``rnnlab train`` and ``python -m rnnlab.backends.ddp`` share, and how they
become ``TrainConfig`` overrides.

    add_config_flags(parser, help_text={"batch": "streams per step, over all processes"})
    config = preset("small").replace(**config_overrides(args))

Each program keeps its own parser (its own corpus, output and device flags); only the flags that name
configuration keys live here, so the two cannot drift apart.  Help texts may differ per program.
"""

from __future__ import annotations

import argparse
import json

from .config import CELLS, ConfigError

# flag (argparse dest) -> TrainConfig field
CONFIG_FLAGS = {
    "cell": "cell", "hidden": "hidden_size", "layers": "num_layers", "seq_len": "seq_len", "batch": "batch_size",
    "lr": "lr", "clip": "clip", "dropout": "dropout", "minutes": "minutes", "steps": "steps", "seed": "seed",
    "eval_every": "eval_every",
}

HELP = {
    "cell": "recurrent cell",
    "hidden": "hidden units per layer",
    "layers": "stacked recurrent layers",
    "seq_len": "characters per window of truncated backpropagation through time",
    "batch": "contiguous streams per batch",
    "lr": "peak learning rate (Adam)",
    "clip": "clip the global gradient norm to this (0: off)",
    "dropout": "dropout on each recurrent layer's output in training",
    "minutes": "training-time budget in minutes (validation not counted)",
    "steps": "number of optimizer steps (reproducible bit for bit)",
    "seed": "random seed: initialization, batch offsets, dropout, samples",
    "eval_every": "steps between validations and checkpoints",
    "set": "set any configuration key, e.g. --set warmup_steps=100 (repeatable)",
}


def add_config_flags(p: argparse.ArgumentParser, help_text: dict[str, str] | None = None) -> None:
    """--cell, --hidden, --layers, --seq-len, --batch, --lr, --clip, --dropout, --minutes | --steps,
    --seed, --eval-every and --set KEY=VALUE; ``help_text`` replaces some of the help texts."""
    text = {**HELP, **(help_text or {})}
    p.add_argument("--cell", choices=list(CELLS), help=text["cell"])
    p.add_argument("--hidden", type=int, help=text["hidden"])
    p.add_argument("--layers", type=int, help=text["layers"])
    p.add_argument("--seq-len", type=int, help=text["seq_len"])
    p.add_argument("--batch", type=int, help=text["batch"])
    p.add_argument("--lr", type=float, help=text["lr"])
    p.add_argument("--clip", type=float, help=text["clip"])
    p.add_argument("--dropout", type=float, help=text["dropout"])
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help=text["minutes"])
    budget.add_argument("--steps", type=int, help=text["steps"])
    p.add_argument("--seed", type=int, help=text["seed"])
    p.add_argument("--eval-every", type=int, help=text["eval_every"])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=text["set"])


def config_overrides(args: argparse.Namespace) -> dict:
    """The configuration keys the flags set.  A budget flag clears the other budget (--minutes runs
    without a step limit); --set values are read as JSON when they parse, else as text.  A --set
    without "=" is a ConfigError."""
    overrides = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items() if getattr(args, flag) is not None}
    if args.minutes is not None:
        overrides["steps"] = None
    if args.steps is not None:
        overrides["minutes"] = None
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        overrides[key.strip().replace("-", "_")] = parse_value(value.strip())
    return overrides


def parse_value(text: str):
    """JSON if it parses (numbers, true/false, null, lists), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
