"""Long-range memory tasks with an adjustable lag: where vanishing gradients show as failure to learn.

Every task draws batches from a seeded ``np.random.Generator`` and scores the model's outputs only at
its query steps.  ``lag`` is the distance the answer must travel back in time:

- ``first``: remember the first symbol.  x = [s, d_1 .. d_lag], s in K symbols, d random distractors
  (another K symbols); at the last step (t = lag) output s.  T = lag + 1; chance = 1/K.
- ``copy``: copy a pattern after a gap.  x = [p_1 .. p_n, blank x lag, go, blank x (n-1)]; at the n
  steps from "go" on, output p_1 .. p_n.  T = 2n + lag; chance = 1/K.
- ``adding``: the adding problem (Hochreiter & Schmidhuber 1997, as in Le et al. 2015).  x_t =
  (value ~ U(0, 1), marker), two markers, one in each half of the sequence; at the last step output
  the sum of the two marked values.  T = lag; predicting the mean 1 gives MSE = 2/12 ~ 0.167.
- ``parity``: n bits, then lag blanks; at the last step output the parity (XOR) of the bits.
  T = n + lag; chance = 1/2.
- ``brackets``: n brackets "(" / ")", then lag blanks; at the last step say whether they are balanced
  (never closing more than opened, ending at depth 0).  Half the sequences are balanced.  T = n + lag.

Integer-input tasks give x (T, B) symbol indices (read as one-hot), the adding problem x (T, B, 2).
Shape legend: B batch, T time, Q query steps.  Proved by ``tests/data/test_memory_tasks.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TASKS = ("first", "copy", "adding", "parity", "brackets")
MAX_LAG = 10_000


@dataclass(frozen=True)
class MemoryBatch:
    x: np.ndarray  # (T, B) int symbols, or (T, B, 2) floats (adding)
    targets: np.ndarray  # (Q, B) int classes, or (Q, B, 1) floats (adding)
    query_steps: np.ndarray  # (Q,) ascending: the steps whose outputs are scored

    @property
    def batch_size(self) -> int:
        return self.x.shape[1]


@dataclass(frozen=True)
class MemoryTask:
    """A task at one lag.  ``input_size`` is the vocabulary (or 2 features), ``output_size`` the classes (or 1)."""

    name: str
    lag: int
    num_symbols: int = 4  # K: symbols to remember (first, copy)
    length: int = 0  # n: pattern length (copy, default 5), bits (parity, 4), brackets (brackets, 8)
    symbols: tuple[str, ...] = field(init=False)  # display names of the input symbols

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.name!r}")
        low = 2 if self.name == "adding" else (1 if self.name == "first" else 0)
        if not isinstance(self.lag, (int, np.integer)) or isinstance(self.lag, bool) or not low <= self.lag <= MAX_LAG:
            raise ValueError(f"lag must be an integer in [{low}, {MAX_LAG}] for the {self.name} task, got {self.lag!r}")
        if not 2 <= self.num_symbols <= 26:
            raise ValueError(f"num_symbols must be in [2, 26], got {self.num_symbols}")
        if not self.length:
            object.__setattr__(self, "length", {"copy": 5, "parity": 4, "brackets": 8}.get(self.name, 1))
        if not 1 <= self.length <= 100:
            raise ValueError(f"length must be in [1, 100], got {self.length}")
        if self.name == "brackets" and self.length % 2:
            raise ValueError(f"the brackets task needs an even length (an odd one is never balanced), "
                             f"got {self.length}")
        object.__setattr__(self, "symbols", _symbols(self.name, self.num_symbols))

    # ---- sizes -----------------------------------------------------------------------------------
    @property
    def regression(self) -> bool:
        return self.name == "adding"

    @property
    def input_size(self) -> int:
        return 2 if self.regression else len(self.symbols)

    @property
    def output_size(self) -> int:
        if self.regression:
            return 1
        return self.num_symbols if self.name in ("first", "copy") else 2

    @property
    def seq_len(self) -> int:
        return {
            "first": self.lag + 1,
            "copy": 2 * self.length + self.lag,
            "adding": self.lag,
            "parity": self.length + self.lag,
            "brackets": self.length + self.lag,
        }[self.name]

    @property
    def baseline(self) -> float:
        """The score of a model that learned nothing: chance accuracy, or the MSE of predicting the mean."""
        return 2.0 / 12.0 if self.regression else 1.0 / self.output_size

    # ---- data ------------------------------------------------------------------------------------
    def sample(self, batch: int, rng: np.random.Generator) -> MemoryBatch:
        if not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        return _GENERATORS[self.name](self, int(batch), rng)

    def describe(self) -> str:
        return {
            "first": f"remember the first of {self.num_symbols} symbols for {self.lag} steps",
            "copy": f"copy a {self.length}-symbol pattern after a gap of {self.lag} steps",
            "adding": f"add the two marked numbers of a {self.lag}-step sequence",
            "parity": f"the parity of {self.length} bits, answered {self.lag} steps later",
            "brackets": f"are {self.length} brackets balanced? answered {self.lag} steps later",
        }[self.name]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "lag": self.lag, "num_symbols": self.num_symbols, "length": self.length,
            "seq_len": self.seq_len, "input_size": self.input_size, "output_size": self.output_size,
            "regression": self.regression, "baseline": self.baseline, "symbols": list(self.symbols),
            "description": self.describe(),
        }


def make_task(name: str, lag: int, **options) -> MemoryTask:
    return MemoryTask(name, lag, **options)


def _symbols(name: str, k: int) -> tuple[str, ...]:
    letters = [chr(ord("A") + j) for j in range(k)]
    if name == "first":
        return tuple(letters) + tuple(chr(ord("a") + j) for j in range(k))  # remembered, then distractors
    if name == "copy":
        return tuple(letters) + ("_", ">")  # pattern symbols, blank, go
    if name == "parity":
        return ("0", "1", "_")
    if name == "brackets":
        return ("(", ")", "_")
    return ("value", "marker")


# ---- the generators ------------------------------------------------------------------------------


def _first(task: MemoryTask, B: int, rng) -> MemoryBatch:
    K, T = task.num_symbols, task.seq_len
    x = rng.integers(K, 2 * K, size=(T, B))  # (T, B) distractors
    first = rng.integers(0, K, size=B)  # (B,)
    x[0] = first
    return MemoryBatch(x, first[None], np.array([T - 1]))


def _copy(task: MemoryTask, B: int, rng) -> MemoryBatch:
    K, n, T = task.num_symbols, task.length, task.seq_len
    blank, go = K, K + 1
    x = np.full((T, B), blank)  # (T, B)
    pattern = rng.integers(0, K, size=(n, B))  # (n, B)
    x[:n] = pattern
    x[n + task.lag] = go
    return MemoryBatch(x, pattern, np.arange(T - n, T))


def _adding(task: MemoryTask, B: int, rng) -> MemoryBatch:
    T = task.seq_len
    half = T // 2
    x = np.zeros((T, B, 2))  # (T, B, 2): value, marker
    x[:, :, 0] = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, half, size=B)  # (B,) in the first half
    second = rng.integers(half, T, size=B)  # (B,) in the second half
    cols = np.arange(B)
    x[first, cols, 1] = 1.0
    x[second, cols, 1] = 1.0
    target = x[first, cols, 0] + x[second, cols, 0]  # (B,)
    return MemoryBatch(x, target[None, :, None], np.array([T - 1]))


def _parity(task: MemoryTask, B: int, rng) -> MemoryBatch:
    n, T = task.length, task.seq_len
    x = np.full((T, B), 2)  # (T, B) blanks
    bits = rng.integers(0, 2, size=(n, B))  # (n, B)
    x[:n] = bits
    return MemoryBatch(x, (bits.sum(axis=0) % 2)[None], np.array([T - 1]))


def _brackets(task: MemoryTask, B: int, rng) -> MemoryBatch:
    n, T = task.length, task.seq_len
    x = np.full((T, B), 2)  # (T, B) blanks
    balanced = rng.random(B) < 0.5  # (B,) which sequences are made balanced
    for b in range(B):
        seq = _balanced_brackets(n, rng) if balanced[b] and n % 2 == 0 else _unbalanced_brackets(n, rng)
        x[:n, b] = seq
    labels = np.array([is_balanced(x[:n, b]) for b in range(B)], dtype=np.int64)  # (B,)
    return MemoryBatch(x, labels[None], np.array([T - 1]))


def is_balanced(seq) -> bool:
    """0 = "(" and 1 = ")": never below depth 0, and back at 0 at the end."""
    depth = 0
    for s in seq:
        depth += 1 if s == 0 else -1
        if depth < 0:
            return False
    return depth == 0


def _balanced_brackets(n: int, rng) -> np.ndarray:
    """A random balanced sequence of n (even) brackets: open while allowed, close at random."""
    out, depth, opened = [], 0, 0
    for j in range(n):
        remaining = n - j
        can_open = opened < n // 2
        must_close = depth == remaining
        if can_open and not must_close and (depth == 0 or rng.random() < 0.5):
            out.append(0)
            depth += 1
            opened += 1
        else:
            out.append(1)
            depth -= 1
    return np.array(out)


def _unbalanced_brackets(n: int, rng) -> np.ndarray:
    while True:
        seq = rng.integers(0, 2, size=n)
        if not is_balanced(seq):
            return seq


_GENERATORS = {"first": _first, "copy": _copy, "adding": _adding, "parity": _parity, "brackets": _brackets}
