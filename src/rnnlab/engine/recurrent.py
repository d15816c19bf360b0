"""``Recurrent``: a stacked RNN / LSTM / GRU with PyTorch's parameter names, forward and BPTT.

    net = Recurrent(RecurrentConfig("lstm", input_size=I, hidden_size=H, num_layers=L), rng=rng)
    out, state, cache = net.forward(x, state)            # out (T, B, H), state.h (L, B, H)
    grads = net.backward(cache, dout)                    # grads.params["weight_hh_l0"], grads.dh ...

``impl="fused"`` (default) runs ``fused.py``; ``impl="loop"`` runs the readable ``loop.py``; both give
the same numbers.  Truncated BPTT: pass the returned ``state`` into the next window's ``forward``;
the arrays carry values, never gradients, so each window's backward stops at its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fused, loop
from .config import RecurrentConfig, State
from .init import init_params
from .loop import Gradients
from .trace import Trace

IMPLS = {"fused": fused, "loop": loop}


@dataclass(frozen=True)
class ForwardCache:
    impl: str
    inner: object  # loop.LoopCache | fused.FusedCache
    trace: Trace | None


class Recurrent:
    def __init__(
        self,
        config: RecurrentConfig,
        params: dict[str, np.ndarray] | None = None,
        *,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
        init: str = "pytorch",
        impl: str = "fused",
        **init_options,
    ):
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {sorted(IMPLS)}, got {impl!r}")
        self.config = config
        self.impl = impl
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            params = init_params(config, rng, scheme=init, dtype=dtype, **init_options)
        else:
            check_params(config, params)
        self.params = params

    @property
    def dtype(self):
        return self.params["weight_hh_l0"].dtype

    def forward(self, x: np.ndarray, state: State | None = None, record: bool = False):
        """x (T, B, I) floats or (T, B) integer indices -> (out (T, B, H), final State, ForwardCache)."""
        x = np.asarray(x)
        self._check_input(x, state)
        out, final, inner, trace = IMPLS[self.impl].forward(self.config, self.params, x, state, record)
        return out, final, ForwardCache(self.impl, inner, trace)

    def backward(self, cache: ForwardCache, dout: np.ndarray, dstate: State | None = None) -> Gradients:
        """dout (T, B, H): dL/d(out); dstate: dL/d(final state) (optional)."""
        return IMPLS[cache.impl].backward(self.params, cache.inner, dout, dstate)

    def _check_input(self, x: np.ndarray, state: State | None) -> None:
        cfg = self.config
        if np.issubdtype(x.dtype, np.integer):
            if x.ndim != 2:
                raise ValueError(f"integer input must have shape (T, B), got {x.shape}")
            if x.size and (x.min() < 0 or x.max() >= cfg.input_size):
                raise ValueError(f"input indices must lie in [0, {cfg.input_size}), got [{x.min()}, {x.max()}]")
        else:
            if x.ndim != 3 or x.shape[2] != cfg.input_size:
                raise ValueError(f"input must have shape (T, B, {cfg.input_size}), got {x.shape}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"input must have at least one step and one sequence, got shape {x.shape}")
        if state is not None:
            want = (cfg.num_layers, x.shape[1], cfg.hidden_size)
            if state.h.shape != want:
                raise ValueError(f"state.h must have shape {want}, got {state.h.shape}")
            if cfg.has_cell_state and (state.c is None or state.c.shape != want):
                raise ValueError(f"an LSTM state needs c of shape {want}")


def check_params(config: RecurrentConfig, params: dict[str, np.ndarray], prefix: str = "") -> None:
    """Raise ValueError unless params holds exactly the expected names and shapes."""
    want = {prefix + k: v for k, v in config.param_shapes().items()}
    got = {k: tuple(v.shape) for k, v in params.items() if k.startswith(prefix)}
    missing = sorted(set(want) - set(got))
    if missing:
        raise ValueError(f"missing parameters: {missing}")
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    if wrong:
        detail = ", ".join(f"{k} has shape {g}, expected {w}" for k, (g, w) in wrong.items())
        raise ValueError(f"parameter shapes do not match the configuration: {detail}")
