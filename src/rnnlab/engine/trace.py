"""The typed trace of a forward pass: every step and layer, asked for with ``record=True``.

For each layer: the hidden state h_t, the cell state c_t (LSTM), every gate's activation and the
pre-activations (the argument of each gate's nonlinearity).  ``Trace.to_dict()`` is the single
JSON boundary (lists of floats), used by the web app and the notebook views.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LayerTrace:
    h: np.ndarray  # (T, B, H)
    preact: np.ndarray  # (T, B, G*H) in gate order
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T, B, H)
    c: np.ndarray | None = None  # (T, B, H), LSTM only

    def to_dict(self, batch_index: int = 0) -> dict:
        b = batch_index
        out = {
            "h": self.h[:, b].tolist(),
            "preact": self.preact[:, b].tolist(),
            "gates": {name: g[:, b].tolist() for name, g in self.gates.items()},
        }
        if self.c is not None:
            out["c"] = self.c[:, b].tolist()
        return out


@dataclass(frozen=True)
class Trace:
    cell: str
    layers: tuple[LayerTrace, ...]

    @property
    def num_steps(self) -> int:
        return self.layers[0].h.shape[0]

    def to_dict(self, batch_index: int = 0) -> dict:
        return {
            "cell": self.cell,
            "num_steps": self.num_steps,
            "layers": [layer.to_dict(batch_index) for layer in self.layers],
        }
