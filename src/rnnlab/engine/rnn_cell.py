"""Vanilla RNN cell: one time step, forward and backward (the readable reference).

Equations (PyTorch ``nn.RNN``), with ``act`` = tanh or ReLU::

    a      = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh      # (B, H) pre-activation
    h      = act(a)                                          # (B, H)

Backward, given dh = dL/dh::

    da     = dh * act'(a)          tanh' = 1 - h**2, relu' = [a > 0]
    dx     = da @ W_ih             dh_prev = da @ W_hh
    dW_ih  = da.T @ x              dW_hh   = da.T @ h_prev
    db_ih  = db_hh = sum_B da

Shape legend: B batch, I input, H hidden.  Proved by ``tests/engine/test_gradcheck.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import LayerParams

GATES = ()  # the vanilla cell has no gates; kept for a uniform interface


@dataclass(frozen=True)
class RNNStepCache:
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    a: np.ndarray  # (B, H) pre-activation
    h: np.ndarray  # (B, H)


def activate(a: np.ndarray, nonlinearity: str) -> np.ndarray:
    if nonlinearity == "tanh":
        return np.tanh(a)
    if nonlinearity == "relu":
        return np.maximum(a, 0)
    raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def activation_derivative(a: np.ndarray, h: np.ndarray, nonlinearity: str) -> np.ndarray:
    """act'(a), written with the already computed output h where that is cheaper."""
    if nonlinearity == "tanh":
        return 1.0 - h * h
    return (a > 0).astype(a.dtype)


def step_forward(x, h_prev, p: LayerParams, nonlinearity: str = "tanh"):
    a = x @ p.weight_ih.T + p.bias_ih + h_prev @ p.weight_hh.T + p.bias_hh  # (B, H)
    h = activate(a, nonlinearity)  # (B, H)
    return h, RNNStepCache(x=x, h_prev=h_prev, a=a, h=h)


def step_backward(dh, cache: RNNStepCache, p: LayerParams, nonlinearity: str = "tanh"):
    """Returns (dx, dh_prev, LayerParams of gradients)."""
    da = dh * activation_derivative(cache.a, cache.h, nonlinearity)  # (B, H)
    dx = da @ p.weight_ih  # (B, I)
    dh_prev = da @ p.weight_hh  # (B, H)
    grads = LayerParams(
        weight_ih=da.T @ cache.x,  # (H, I)
        weight_hh=da.T @ cache.h_prev,  # (H, H)
        bias_ih=da.sum(axis=0),  # (H,)
        bias_hh=da.sum(axis=0),  # (H,)
    )
    return dx, dh_prev, grads
