"""GRU cell: one time step, forward and backward (the readable reference).

Equations (PyTorch ``nn.GRU``, gate order r, z, n; the reset gate multiplies ``W_hn h + b_hn``)::

    gi      = x @ W_ih.T + b_ih            # (B, 3H) -> gi_r, gi_z, gi_n
    gh      = h_prev @ W_hh.T + b_hh       # (B, 3H) -> gh_r, gh_z, gh_n
    r       = sigmoid(gi_r + gh_r)         reset gate
    z       = sigmoid(gi_z + gh_z)         update gate
    n       = tanh(gi_n + r * gh_n)        candidate
    h       = (1 - z) * n + z * h_prev

Backward, given dh = dL/dh::

    dn      = dh * (1 - z)                 dz = dh * (h_prev - n)
    da_n    = dn * (1 - n**2)              (gradient of the candidate's pre-activation)
    dr      = da_n * gh_n
    da_r    = dr * r * (1 - r)             da_z = dz * z * (1 - z)
    dgi     = [da_r, da_z, da_n]           dgh  = [da_r, da_z, da_n * r]
    dx      = dgi @ W_ih                   dh_prev = dh * z + dgh @ W_hh
    dW_ih   = dgi.T @ x   db_ih = sum_B dgi      dW_hh = dgh.T @ h_prev   db_hh = sum_B dgh

Shape legend: B batch, I input, H hidden.  Proved by ``tests/engine/test_gradcheck.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lstm_cell import sigmoid
from .params import LayerParams

GATES = ("r", "z", "n")


@dataclass(frozen=True)
class GRUStepCache:
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    gi: np.ndarray  # (B, 3H) input projections
    gh: np.ndarray  # (B, 3H) hidden projections
    r: np.ndarray  # (B, H)
    z: np.ndarray  # (B, H)
    n: np.ndarray  # (B, H)


def step_forward(x, h_prev, p: LayerParams):
    gi = x @ p.weight_ih.T + p.bias_ih  # (B, 3H)
    gh = h_prev @ p.weight_hh.T + p.bias_hh  # (B, 3H)
    gi_r, gi_z, gi_n = np.split(gi, 3, axis=1)  # each (B, H)
    gh_r, gh_z, gh_n = np.split(gh, 3, axis=1)  # each (B, H)
    r = sigmoid(gi_r + gh_r)  # (B, H)
    z = sigmoid(gi_z + gh_z)  # (B, H)
    n = np.tanh(gi_n + r * gh_n)  # (B, H)
    h = (1 - z) * n + z * h_prev  # (B, H)
    return h, GRUStepCache(x=x, h_prev=h_prev, gi=gi, gh=gh, r=r, z=z, n=n)


def step_backward(dh, cache: GRUStepCache, p: LayerParams):
    """Returns (dx, dh_prev, LayerParams of gradients)."""
    k = cache
    gh_n = np.split(k.gh, 3, axis=1)[2]  # (B, H)
    dn = dh * (1 - k.z)  # (B, H)
    dz = dh * (k.h_prev - k.n)  # (B, H)
    da_n = dn * (1 - k.n**2)  # (B, H)
    dr = da_n * gh_n  # (B, H)
    da_r = dr * k.r * (1 - k.r)  # (B, H)
    da_z = dz * k.z * (1 - k.z)  # (B, H)
    dgi = np.concatenate([da_r, da_z, da_n], axis=1)  # (B, 3H)
    dgh = np.concatenate([da_r, da_z, da_n * k.r], axis=1)  # (B, 3H)
    dx = dgi @ p.weight_ih  # (B, I)
    dh_prev = dh * k.z + dgh @ p.weight_hh  # (B, H)
    grads = LayerParams(
        weight_ih=dgi.T @ k.x,  # (3H, I)
        weight_hh=dgh.T @ k.h_prev,  # (3H, H)
        bias_ih=dgi.sum(axis=0),  # (3H,)
        bias_hh=dgh.sum(axis=0),  # (3H,)
    )
    return dx, dh_prev, grads
