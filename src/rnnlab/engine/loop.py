"""The plain per-step loop over a sequence and over stacked layers: the reference implementation.

Forward, for layer k = 0..L-1 and t = 0..T-1 (the input of layer k > 0 is the output of layer k-1)::

    h[k, t] (, c[k, t]) = cell.step_forward(input[k, t], h[k, t-1] (, c[k, t-1]))

Backward through time is the same loop reversed.  The gradient that reaches h[k, t] is the sum of
what comes from its output (the loss, or the layer above) and what comes back from step t+1::

    dh_total[k, t] = dout[k, t] + dh_prev_from(t+1)

and ``dh_total`` for every t and k is returned (``Gradients.dh``), the basis of the
vanishing-gradient views.  ``fused.py`` computes exactly the same numbers faster
(``tests/engine/test_fused_equals_loop.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import gru_cell, lstm_cell, rnn_cell
from .config import RecurrentConfig, State, zero_state
from .params import LayerParams
from .trace import LayerTrace, Trace


@dataclass(frozen=True)
class Gradients:
    """What backpropagation through time returns."""

    params: dict[str, np.ndarray]  # same names and shapes as the parameters
    dx: np.ndarray | None  # (T, B, I); None for integer (one-hot index) input
    dh0: np.ndarray  # (L, B, H) gradient of the initial hidden state
    dc0: np.ndarray | None  # (L, B, H), LSTM only
    dh: np.ndarray  # (L, T, B, H): dL/dh_t for every layer and step (total, both paths)


@dataclass(frozen=True)
class LoopCache:
    config: RecurrentConfig
    state0: State
    int_input: bool
    steps: tuple[tuple, ...]  # [layer][t] -> the cell's step cache


def one_hot(indices: np.ndarray, size: int, dtype) -> np.ndarray:
    """(T, B) integer indices -> (T, B, size) one-hot vectors."""
    out = np.zeros(indices.shape + (size,), dtype=dtype)  # (T, B, V)
    np.put_along_axis(out, indices[..., None], 1, axis=-1)
    return out


def cell_step_forward(config: RecurrentConfig, x_t, h, c, p: LayerParams):
    """One step of the configured cell: (h_t, c_t (None but for the LSTM), the step's cache)."""
    if config.cell == "rnn":
        h, cache = rnn_cell.step_forward(x_t, h, p, config.nonlinearity)
        return h, c, cache
    if config.cell == "lstm":
        return lstm_cell.step_forward(x_t, h, c, p)
    h, cache = gru_cell.step_forward(x_t, h, p)
    return h, c, cache


def cell_step_backward(config: RecurrentConfig, dh, dc_next, step, p: LayerParams):
    """One step of the configured cell backward: (dx_t, dh_{t-1}, dc_{t-1} (LSTM; else dc_next
    unchanged), the step's parameter gradients)."""
    if config.cell == "rnn":
        dx, dh_prev, g = rnn_cell.step_backward(dh, step, p, config.nonlinearity)
        return dx, dh_prev, dc_next, g
    if config.cell == "lstm":
        return lstm_cell.step_backward(dh, dc_next, step, p)
    dx, dh_prev, g = gru_cell.step_backward(dh, step, p)
    return dx, dh_prev, dc_next, g


def forward(config: RecurrentConfig, params: dict, x: np.ndarray, state: State | None = None, record: bool = False):
    """x: (T, B, I) floats, or (T, B) integer indices read as one-hot vectors.

    Returns (out (T, B, H) of the top layer, final State, LoopCache, Trace or None).
    """
    dtype = params["weight_hh_l0"].dtype
    int_input = np.issubdtype(x.dtype, np.integer)
    layer_in = one_hot(x, config.input_size, dtype) if int_input else x.astype(dtype, copy=False)
    T, B = layer_in.shape[:2]
    state = zero_state(config, B, dtype) if state is None else state
    h_n, c_n, caches, traces = [], [], [], []
    for k in range(config.num_layers):
        p = LayerParams.of(params, k)
        h = state.h[k]
        c = state.c[k] if config.has_cell_state else None
        hs, cs, layer_caches = [], [], []
        for t in range(T):
            h, c, cache = cell_step_forward(config, layer_in[t], h, c, p)
            if config.has_cell_state:
                cs.append(c)
            hs.append(h)
            layer_caches.append(cache)
        layer_out = np.stack(hs)  # (T, B, H)
        caches.append(tuple(layer_caches))
        h_n.append(h)
        c_n.append(c)
        if record:
            traces.append(_layer_trace(config, layer_out, cs, layer_caches))
        layer_in = layer_out
    final = State(np.stack(h_n), np.stack(c_n) if config.has_cell_state else None)
    cache = LoopCache(config=config, state0=state, int_input=int_input, steps=tuple(caches))
    trace = Trace(config.cell, tuple(traces)) if record else None
    return layer_in, final, cache, trace


def _layer_trace(config, layer_out, cs, caches) -> LayerTrace:
    if config.cell == "rnn":
        return LayerTrace(h=layer_out, preact=np.stack([k.a for k in caches]))
    if config.cell == "lstm":
        gates = {name: np.stack([getattr(k, name) for k in caches]) for name in lstm_cell.GATES}
        return LayerTrace(h=layer_out, preact=np.stack([k.z for k in caches]), gates=gates, c=np.stack(cs))
    gates = {name: np.stack([getattr(k, name) for k in caches]) for name in gru_cell.GATES}
    pre = []
    for k in caches:
        gi, gh = np.split(k.gi, 3, axis=1), np.split(k.gh, 3, axis=1)
        pre.append(np.concatenate([gi[0] + gh[0], gi[1] + gh[1], gi[2] + k.r * gh[2]], axis=1))
    return LayerTrace(h=layer_out, preact=np.stack(pre), gates=gates)


def backward(params: dict, cache: LoopCache, dout: np.ndarray, dstate: State | None = None) -> Gradients:
    """dout: (T, B, H) gradient of the loss w.r.t. the top layer's outputs; dstate: w.r.t. the final state."""
    config = cache.config
    L = config.num_layers
    T = len(cache.steps[0])
    grads: dict[str, np.ndarray] = {}
    dh0, dc0, dh_all = [None] * L, [None] * L, [None] * L
    d_layer_out = dout
    for k in reversed(range(L)):
        p = LayerParams.of(params, k)
        dh_next = np.zeros_like(cache.state0.h[k]) if dstate is None else dstate.h[k].copy()  # (B, H)
        dc_next = None
        if config.has_cell_state:
            dc_next = np.zeros_like(cache.state0.c[k]) if dstate is None or dstate.c is None else dstate.c[k].copy()
        acc = {kind: np.zeros_like(getattr(p, kind)) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        d_layer_in, dh_total = [None] * T, [None] * T
        for t in reversed(range(T)):
            dh = d_layer_out[t] + dh_next  # (B, H)
            dh_total[t] = dh
            step = cache.steps[k][t]
            dx, dh_next, dc_next, g = cell_step_backward(config, dh, dc_next, step, p)
            d_layer_in[t] = dx
            for kind in acc:
                acc[kind] += getattr(g, kind)
        grads.update(LayerParams(**acc).named(k))
        dh0[k], dc0[k], dh_all[k] = dh_next, dc_next, np.stack(dh_total)
        d_layer_out = np.stack(d_layer_in)  # (T, B, I_k)
    return Gradients(
        params={name: grads[name] for name in params if name in grads},
        dx=None if cache.int_input else d_layer_out,
        dh0=np.stack(dh0),
        dc0=np.stack(dc0) if config.has_cell_state else None,
        dh=np.stack(dh_all),
    )
