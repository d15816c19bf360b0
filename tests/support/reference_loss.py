"""Test helper: a scalar loss of a recurrent network's outputs and final state, for gradient checks.

    L = sum(out * R_out) + sum(h_n * R_h) (+ sum(c_n * R_c))

with fixed random R's, so every output and the final state receive a gradient.  ``perturbed_loss``
recomputes L with an additive perturbation on one hidden state h[k, t], running the cells' own step
functions, to finite-difference dL/dh_t.
"""

from __future__ import annotations

import numpy as np

from rnnlab.engine import gru_cell, lstm_cell, rnn_cell
from rnnlab.engine.loop import one_hot
from rnnlab.engine.params import LayerParams


def loss_weights(rng, T, B, H, L, lstm):
    return (rng.standard_normal((T, B, H)), rng.standard_normal((L, B, H)), rng.standard_normal((L, B, H)) if lstm else None)


def loss_value(out, final, weights) -> float:
    r_out, r_h, r_c = weights
    value = float((out * r_out).sum() + (final.h * r_h).sum())
    if r_c is not None:
        value += float((final.c * r_c).sum())
    return value


def perturbed_loss(config, params, x, state, weights, layer: int, step: int, delta: np.ndarray) -> float:
    """Forward with h[layer, step] += delta (B, H) right after it is computed; return L."""
    layer_in = one_hot(x, config.input_size, np.float64) if np.issubdtype(x.dtype, np.integer) else x
    T = layer_in.shape[0]
    hs_n, cs_n = [], []
    for k in range(config.num_layers):
        p = LayerParams.of(params, k)
        h, c = state.h[k], (state.c[k] if state.c is not None else None)
        outs = []
        for t in range(T):
            if config.cell == "rnn":
                h, _ = rnn_cell.step_forward(layer_in[t], h, p, config.nonlinearity)
            elif config.cell == "lstm":
                h, c, _ = lstm_cell.step_forward(layer_in[t], h, c, p)
            else:
                h, _ = gru_cell.step_forward(layer_in[t], h, p)
            if k == layer and t == step:
                h = h + delta
            outs.append(h)
        hs_n.append(h)
        cs_n.append(c)
        layer_in = np.stack(outs)
    r_out, r_h, r_c = weights
    value = float((layer_in * r_out).sum() + (np.stack(hs_n) * r_h).sum())
    if r_c is not None:
        value += float((np.stack(cs_n) * r_c).sum())
    return value
