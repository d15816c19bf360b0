"""LSTM cell: one time step, forward and backward (the readable reference).

Equations (PyTorch ``nn.LSTM``, gate order i, f, g, o)::

    z         = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh   # (B, 4H), split into z_i, z_f, z_g, z_o
    i         = sigmoid(z_i)       input gate
    f         = sigmoid(z_f)       forget gate
    g         = tanh(z_g)          candidate cell
    o         = sigmoid(z_o)       output gate
    c         = f * c_prev + i * g
    h         = o * tanh(c)

Backward, given dh = dL/dh and dc = dL/dc from the next step::

    dc_total  = dc + dh * o * (1 - tanh(c)**2)
    do        = dh * tanh(c)        di = dc_total * g     dg = dc_total * i     df = dc_total * c_prev
    dz_i      = di * i * (1 - i)    dz_f = df * f * (1 - f)
    dz_g      = dg * (1 - g**2)     dz_o = do * o * (1 - o)
    dc_prev   = dc_total * f
    dx        = dz @ W_ih           dh_prev = dz @ W_hh
    dW_ih     = dz.T @ x            dW_hh   = dz.T @ h_prev      db_ih = db_hh = sum_B dz

Shape legend: B batch, I input, H hidden.  Proved by ``tests/engine/test_gradcheck.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import LayerParams

GATES = ("i", "f", "g", "o")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, 1 / (1 + exp(-z)), written with tanh."""
    return 0.5 * np.tanh(0.5 * z) + 0.5


@dataclass(frozen=True)
class LSTMStepCache:
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    c_prev: np.ndarray  # (B, H)
    z: np.ndarray  # (B, 4H) pre-activations
    i: np.ndarray  # (B, H)
    f: np.ndarray  # (B, H)
    g: np.ndarray  # (B, H)
    o: np.ndarray  # (B, H)
    c: np.ndarray  # (B, H)
    tanh_c: np.ndarray  # (B, H)


def step_forward(x, h_prev, c_prev, p: LayerParams):
    z = x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh  # (B, 4H)
    z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)  # each (B, H)
    i = sigmoid(z_i)  # (B, H)
    f = sigmoid(z_f)  # (B, H)
    g = np.tanh(z_g)  # (B, H)
    o = sigmoid(z_o)  # (B, H)
    c = f * c_prev + i * g  # (B, H)
    tanh_c = np.tanh(c)  # (B, H)
    h = o * tanh_c  # (B, H)
    cache = LSTMStepCache(x=x, h_prev=h_prev, c_prev=c_prev, z=z, i=i, f=f, g=g, o=o, c=c, tanh_c=tanh_c)
    return h, c, cache


def step_backward(dh, dc, cache: LSTMStepCache, p: LayerParams):
    """Returns (dx, dh_prev, dc_prev, LayerParams of gradients)."""
    k = cache
    dc_total = dc + dh * k.o * (1.0 - k.tanh_c**2)  # (B, H)
    do = dh * k.tanh_c  # (B, H)
    di = dc_total * k.g  # (B, H)
    dg = dc_total * k.i  # (B, H)
    df = dc_total * k.c_prev  # (B, H)
    dz = np.concatenate(
        [di * k.i * (1 - k.i), df * k.f * (1 - k.f), dg * (1 - k.g**2), do * k.o * (1 - k.o)], axis=1
    )  # (B, 4H)
    dc_prev = dc_total * k.f  # (B, H)
    dx = dz @ p.weight_ih  # (B, I)
    dh_prev = dz @ p.weight_hh  # (B, H)
    grads = LayerParams(
        weight_ih=dz.T @ k.x,  # (4H, I)
        weight_hh=dz.T @ k.h_prev,  # (4H, H)
        bias_ih=dz.sum(axis=0),  # (4H,)
        bias_hh=dz.sum(axis=0),  # (4H,)
    )
    return dx, dh_prev, dc_prev, grads
