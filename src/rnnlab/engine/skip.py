"""Skip connections for a stacked RNN / LSTM / GRU: residual between layers, and a skip across time.

Two remedies for vanishing gradients, each a switch (``SkipConfig``), written as a plain loop over
layers and steps around the cells' readable ``step_forward`` / ``step_backward`` (as ``loop.py``):

1. Residual between stacked layers (``residual=True``; layers k > 0, whose input size is H)::

       out_k[t] = h_k[t] + out_{k-1}[t]            the layer adds to its input instead of replacing it
       d out_{k-1}[t] += d out_k[t]                  an identity path for the gradient, layer to layer

2. A skip across time (``time_skip = K > 0``): the hidden state of step t is also fed by h[t-K]::

       h[t] = cell(x[t], h[t-1]) + h[t-K] @ W_skip.T        for t >= K   (the cell term alone for t < K)
       W_skip: ``weight_skip_l{k}`` (H, H), initialised to the identity

   The next step reads this h[t] as its h_prev, and the layer outputs it.  Backward::

       dh[t]        = dout[t] + dh_prev from step t+1 + dh_skip from step t+K      (the total dL/dh[t])
       dh_skip[t-K] = dh[t] @ W_skip        dW_skip += dh[t].T @ h[t-K]

   so the gradient reaches step t-K in one hop instead of K: T steps back take T/K hops.  For the LSTM
   the skip adds to h only; the cell state c runs as usual.

With both switches off the numbers equal ``Recurrent`` exactly (``tests/engine/test_skip.py``, which
also checks every gradient against finite differences).  The final state returned is (h[T-1], c[T-1]);
a next call does not see the last K states, so the time skip restarts with each call.

Shape legend: B batch, T time, I input, H hidden, L layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .config import RecurrentConfig, State, zero_state
from .loop import Gradients, cell_step_backward, cell_step_forward, one_hot
from .params import PARAM_KINDS, LayerParams


@dataclass(frozen=True)
class SkipConfig:
    residual: bool = False  # out_k = h_k + out_{k-1} for layers k > 0
    time_skip: int = 0  # K: h[t] also fed by h[t-K]; 0 = off

    def __post_init__(self) -> None:
        if not isinstance(self.residual, bool):
            raise ValueError(f"residual must be True or False, got {self.residual!r}")
        if not isinstance(self.time_skip, (int, np.integer)) or isinstance(self.time_skip, bool) or self.time_skip < 0:
            raise ValueError(f"time_skip must be a non-negative integer (0 = off), got {self.time_skip!r}")

    @property
    def active(self) -> bool:
        return self.residual or self.time_skip > 0

    def to_dict(self) -> dict:
        return asdict(self)


def skip_param_shapes(config: RecurrentConfig, skip: SkipConfig) -> dict[str, tuple[int, int]]:
    """The extra parameters: ``weight_skip_l{k}`` (H, H) per layer when the time skip is on."""
    if skip.time_skip == 0:
        return {}
    H = config.hidden_size
    return {f"weight_skip_l{k}": (H, H) for k in range(config.num_layers)}


def init_skip_params(config: RecurrentConfig, skip: SkipConfig, scale: float = 1.0, dtype=np.float32):
    """W_skip = scale * I: at the start the skip is a plain (scaled) copy of h[t-K]."""
    return {name: (scale * np.eye(shape[0])).astype(dtype) for name, shape in skip_param_shapes(config, skip).items()}


@dataclass(frozen=True)
class SkipCache:
    config: RecurrentConfig
    skip: SkipConfig
    state0: State
    int_input: bool
    steps: tuple[tuple, ...]  # [layer][t] -> the cell's step cache
    hs: tuple[np.ndarray, ...]  # [layer] (T, B, H): h[t] including the skip term


def forward(config: RecurrentConfig, params: dict, x: np.ndarray, skip: SkipConfig, state: State | None = None):
    """x (T, B, I) floats or (T, B) integer indices -> (out (T, B, H), final State, SkipCache)."""
    _check(config, params, skip, x)
    dtype = params["weight_hh_l0"].dtype
    int_input = np.issubdtype(x.dtype, np.integer)
    layer_in = one_hot(x, config.input_size, dtype) if int_input else x.astype(dtype, copy=False)  # (T, B, I)
    T, B = layer_in.shape[:2]
    K = skip.time_skip
    state = zero_state(config, B, dtype) if state is None else state
    h_n, c_n, all_steps, all_hs = [], [], [], []
    for k in range(config.num_layers):
        p = LayerParams.of(params, k)
        w_skip = params[f"weight_skip_l{k}"] if K else None  # (H, H)
        h = state.h[k]  # (B, H)
        c = state.c[k] if config.has_cell_state else None  # (B, H)
        hs, steps = [], []
        for t in range(T):
            h, c, step = cell_step_forward(config, layer_in[t], h, c, p)
            if K and t >= K:
                h = h + hs[t - K] @ w_skip.T  # (B, H)
            hs.append(h)
            steps.append(step)
        layer_out = np.stack(hs)  # (T, B, H)
        all_hs.append(layer_out)
        all_steps.append(tuple(steps))
        h_n.append(h)
        c_n.append(c)
        if skip.residual and k > 0:
            layer_out = layer_out + layer_in  # (T, B, H)
        layer_in = layer_out
    final = State(np.stack(h_n), np.stack(c_n) if config.has_cell_state else None)
    cache = SkipCache(config, skip, state, int_input, tuple(all_steps), tuple(all_hs))
    return layer_in, final, cache


def backward(params: dict, cache: SkipCache, dout: np.ndarray, dstate: State | None = None) -> Gradients:
    """dout (T, B, H): dL/d(out of the top layer); dstate: dL/d(final state) (optional)."""
    config, skip = cache.config, cache.skip
    L, K = config.num_layers, skip.time_skip
    T = len(cache.steps[0])
    grads: dict[str, np.ndarray] = {}
    dh0, dc0, dh_all = [None] * L, [None] * L, [None] * L
    d_layer_out = dout  # (T, B, H)
    for k in reversed(range(L)):
        p = LayerParams.of(params, k)
        hs = cache.hs[k]  # (T, B, H)
        dh_next = np.zeros_like(cache.state0.h[k]) if dstate is None else dstate.h[k].copy()  # (B, H)
        dc_next = None
        if config.has_cell_state:
            dc_next = np.zeros_like(cache.state0.c[k]) if dstate is None or dstate.c is None else dstate.c[k].copy()
        dh_skip = np.zeros_like(hs)  # (T, B, H) gradient arriving at h[t] through the skip from t+K
        acc = {kind: np.zeros_like(getattr(p, kind)) for kind in PARAM_KINDS}
        if K:
            w_skip = params[f"weight_skip_l{k}"]  # (H, H)
            dw_skip = np.zeros_like(w_skip)  # (H, H)
        d_layer_in, dh_total = [None] * T, [None] * T
        for t in reversed(range(T)):
            dh = d_layer_out[t] + dh_next + dh_skip[t]  # (B, H)
            dh_total[t] = dh
            if K and t >= K:
                dh_skip[t - K] += dh @ w_skip  # (B, H)
                dw_skip += dh.T @ hs[t - K]  # (H, H)
            step = cache.steps[k][t]
            dx, dh_next, dc_next, g = cell_step_backward(config, dh, dc_next, step, p)
            d_layer_in[t] = dx
            for kind in acc:
                acc[kind] += getattr(g, kind)
        grads.update(LayerParams(**acc).named(k))
        if K:
            grads[f"weight_skip_l{k}"] = dw_skip
        dh0[k], dc0[k], dh_all[k] = dh_next, dc_next, np.stack(dh_total)
        d_in = np.stack(d_layer_in)  # (T, B, I_k)
        if skip.residual and k > 0:
            d_in = d_in + d_layer_out  # the residual's identity path
        d_layer_out = d_in
    return Gradients(
        params={name: grads[name] for name in params if name in grads},
        dx=None if cache.int_input else d_layer_out,
        dh0=np.stack(dh0),
        dc0=np.stack(dc0) if config.has_cell_state else None,
        dh=np.stack(dh_all),
    )


def _check(config: RecurrentConfig, params: dict, skip: SkipConfig, x: np.ndarray) -> None:
    want = config.param_shapes() | skip_param_shapes(config, skip)
    missing = sorted(set(want) - set(params))
    if missing:
        raise ValueError(f"missing parameters: {missing}")
    wrong = [f"{k} has shape {tuple(params[k].shape)}, expected {v}" for k, v in want.items() if params[k].shape != v]
    if wrong:
        raise ValueError("parameter shapes do not match the configuration: " + ", ".join(wrong))
    if np.issubdtype(x.dtype, np.integer):
        if x.ndim != 2 or (x.size and (x.min() < 0 or x.max() >= config.input_size)):
            raise ValueError(f"integer input must have shape (T, B) with values in [0, {config.input_size})")
    elif x.ndim != 3 or x.shape[2] != config.input_size:
        raise ValueError(f"input must have shape (T, B, {config.input_size}), got {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"input must have at least one step and one sequence, got shape {x.shape}")
