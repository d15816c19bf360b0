"""The configuration of a stacked recurrent network, and its state between calls.

Shape legend used across rnnlab: B batch, T time, I input, H hidden, V vocabulary,
L layers, G gates (RNN 1, GRU 3, LSTM 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from .params import CELL_GATES, param_shapes

NONLINEARITIES = ("tanh", "relu")


@dataclass(frozen=True)
class RecurrentConfig:
    """What ``torch.nn.RNN|LSTM|GRU(input_size, hidden_size, num_layers, nonlinearity)`` describes."""

    cell: str = "lstm"  # "rnn" | "lstm" | "gru"
    input_size: int = 1  # I
    hidden_size: int = 32  # H
    num_layers: int = 1  # L
    nonlinearity: str = "tanh"  # vanilla RNN only: "tanh" | "relu"

    def __post_init__(self) -> None:
        if self.cell not in CELL_GATES:
            raise ValueError(f"cell must be one of {sorted(CELL_GATES)}, got {self.cell!r}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {self.nonlinearity!r}")
        for name in ("input_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def gates(self) -> tuple[str, ...]:
        return CELL_GATES[self.cell]

    @property
    def has_cell_state(self) -> bool:
        return self.cell == "lstm"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return param_shapes(self.cell, self.input_size, self.hidden_size, self.num_layers)

    def to_dict(self) -> dict:
        return asdict(self)


class State(NamedTuple):
    """The recurrent state carried between steps and between calls (truncated BPTT)."""

    h: np.ndarray  # (L, B, H)
    c: np.ndarray | None = None  # (L, B, H), LSTM only


def zero_state(config: RecurrentConfig, batch: int, dtype=np.float64) -> State:
    shape = (config.num_layers, batch, config.hidden_size)
    c = np.zeros(shape, dtype) if config.has_cell_state else None
    return State(np.zeros(shape, dtype), c)
