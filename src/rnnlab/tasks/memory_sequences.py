"""The long-range memory tasks as a Sequence Type of the web visualizer ("Long-range memory").

One type, one example per task of ``data.memory_tasks``; the page's sequence length T sets the lag:

    first     remember the first of 4 symbols     lag = T - 1        target at the last step
    copy      copy a 3-symbol pattern after a gap  lag = T - 6        targets at the last 3 steps
    parity    parity of 3 bits, then blanks        lag = T - 3        target at the last step
    brackets  are 4 brackets balanced?             lag = T - 4        target at the last step
    adding    the adding problem                   lag = T            target (a sum) at the last step

Steps without a target are masked, as the visualizer's bits type does.  ``register()`` adds the type
to ``tasks.visualizer.SEQUENCE_TYPES`` (once; calling it again does nothing).
Proved by ``tests/tasks/test_memory_sequences.py``.
"""

from __future__ import annotations

import numpy as np

from ..data.memory_tasks import make_task
from . import visualizer as vis

NAME = "memory"
SETTINGS = {  # example -> (task name, task options, steps taken by the non-lag part)
    "first": ("first", {"num_symbols": 4}, 1),
    "copy": ("copy", {"num_symbols": 4, "length": 3}, 6),
    "parity": ("parity", {"length": 3}, 3),
    "brackets": ("brackets", {"length": 4}, 4),
    "adding": ("adding", {}, 0),
}
BRACKET_ANSWERS = ("unbalanced", "balanced")


class MemorySequences(vis.SequenceType):
    name, label, kind = NAME, "Long-range memory", "either"
    description = ("The answer at the end depends on inputs far back: the memory tasks of the "
                   "vanishing-gradient section.")
    examples = (
        vis.Example("first", "Remember the first symbol", {}, "output the first symbol (A-D) at the last step; "
                    "lower-case letters are distractors"),
        vis.Example("copy", "Copy a pattern after a gap", {}, "after '>' output the 3 symbols read at the start"),
        vis.Example("parity", "Parity of 3 bits, asked later", {}, "at the last step, the XOR of the first 3 bits"),
        vis.Example("brackets", "Balanced brackets, asked later", {},
                    "at the last step: were the 4 brackets balanced?"),
        vis.Example("adding", "The adding problem", {},
                    "output the sum of the two marked (◆) numbers at the last step"),
    )

    def make(self, example, length, text="", rng=None):
        task_name, options, fixed = SETTINGS[example.name]
        lag = length - fixed
        low = 2 if task_name == "adding" else (1 if task_name == "first" else 0)
        if lag < low:
            raise ValueError(f"the {example.label.lower()} example needs at least {fixed + low} steps, got {length}")
        task = make_task(task_name, lag, **options)
        gen = np.random.default_rng(1234) if rng is None else rng
        batch = task.sample(1, gen)
        T = task.seq_len
        mask = np.zeros(T, bool)  # (T,)
        mask[batch.query_steps] = True
        if task.regression:
            values, markers = batch.x[:, 0, 0], batch.x[:, 0, 1]  # (T,), (T,)
            targets = np.zeros(T)  # (T,)
            targets[-1] = batch.targets[0, 0, 0]
            labels = [f"{v:.2f}" + ("◆" if m else "") for v, m in zip(values, markers)]
            shown = ["" for _ in range(T - 1)] + [f"{targets[-1]:.2f}"]
            return vis.SequenceData(NAME, example.name, "regression", batch.x[:, 0], targets, mask, labels, shown,
                                    None, 2, 1, example.description)
        classes = list(task.symbols) + (list(BRACKET_ANSWERS) if task_name == "brackets" else [])
        x = batch.x[:, 0]  # (T,) symbol indices = class indices (the symbols come first)
        targets = np.zeros(T, np.int64)  # (T,)
        answers = batch.targets[:, 0]  # (Q,)
        if task_name == "brackets":
            answers = answers + len(task.symbols)
        elif task_name == "parity":
            answers = answers.astype(np.int64)  # "0", "1" are the first two symbols
        targets[batch.query_steps] = answers
        shown = [classes[targets[t]] if mask[t] else "" for t in range(T)]
        return vis.SequenceData(NAME, example.name, "classification", x.astype(np.int64), targets, mask,
                                [classes[i] for i in x], shown, classes, len(classes), len(classes),
                                example.description)


def register() -> None:
    """Add the type to the visualizer once."""
    if NAME not in vis.SEQUENCE_TYPES:
        vis.register_sequence_type(MemorySequences())
