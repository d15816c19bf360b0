"""A linear layer (the output head), forward and backward, as PyTorch's ``nn.Linear``.

    y  = h @ W.T + b           h (..., I), W (O, I), b (O,) -> y (..., O)
    dh = dy @ W                dW = sum dy.T @ h              db = sum dy

Proved by ``tests/engine/test_gradcheck.py``.
"""

from __future__ import annotations

import numpy as np


def linear_forward(h: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return h @ weight.T + bias  # (..., O)


def linear_backward(dy: np.ndarray, h: np.ndarray, weight: np.ndarray):
    """Returns (dh, dweight, dbias)."""
    dy2d = dy.reshape(-1, dy.shape[-1])  # (N, O)
    h2d = h.reshape(-1, h.shape[-1])  # (N, I)
    dh = dy @ weight  # (..., I)
    return dh, dy2d.T @ h2d, dy2d.sum(axis=0)
