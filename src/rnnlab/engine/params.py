"""Parameter naming and shapes, exactly as PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.

For layer k (0-based) with G gates (RNN 1, GRU 3 in order r, z, n; LSTM 4 in order i, f, g, o)::

    weight_ih_l{k}  (G*H, I_k)   I_0 = input size, I_k = H for k > 0
    weight_hh_l{k}  (G*H, H)
    bias_ih_l{k}    (G*H,)
    bias_hh_l{k}    (G*H,)

A model's parameters are a flat ``dict[str, np.ndarray]`` keyed by these names, so a PyTorch
``state_dict()`` is a weight copy away (``tests/engine/test_torch_parity.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELL_GATES: dict[str, tuple[str, ...]] = {
    "rnn": ("h",),
    "lstm": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
}
PARAM_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def num_gates(cell: str) -> int:
    try:
        return len(CELL_GATES[cell])
    except KeyError:
        raise ValueError(f"cell must be one of {sorted(CELL_GATES)}, got {cell!r}") from None


@dataclass(frozen=True)
class LayerParams:
    """The four arrays of one layer (or their gradients)."""

    weight_ih: np.ndarray  # (G*H, I)
    weight_hh: np.ndarray  # (G*H, H)
    bias_ih: np.ndarray  # (G*H,)
    bias_hh: np.ndarray  # (G*H,)

    @classmethod
    def of(cls, params: dict[str, np.ndarray], layer: int, prefix: str = "") -> LayerParams:
        return cls(*(params[f"{prefix}{kind}_l{layer}"] for kind in PARAM_KINDS))

    def named(self, layer: int, prefix: str = "") -> dict[str, np.ndarray]:
        return {f"{prefix}{kind}_l{layer}": getattr(self, kind) for kind in PARAM_KINDS}


def param_shapes(cell: str, input_size: int, hidden_size: int, num_layers: int) -> dict[str, tuple[int, ...]]:
    """The name -> shape table of a stacked recurrent network, in PyTorch's order."""
    g = num_gates(cell)
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(num_layers):
        i_k = input_size if k == 0 else hidden_size
        shapes[f"weight_ih_l{k}"] = (g * hidden_size, i_k)
        shapes[f"weight_hh_l{k}"] = (g * hidden_size, hidden_size)
        shapes[f"bias_ih_l{k}"] = (g * hidden_size,)
        shapes[f"bias_hh_l{k}"] = (g * hidden_size,)
    return shapes
