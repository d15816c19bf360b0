"""Compiled kernels for the fast path: each step's gate math in one pass over memory (numba).

Imported only through ``jit.kernels()``, never at ``import rnnlab``: numba is optional
(``pip install 'rnnlab[fast]'``).  Each kernel is the NumPy code of ``fused.py`` for one step,
written as one loop over the (rows, b) block instead of a dozen whole-array passes; the products
stay in BLAS.  The arithmetic is the same operations in the same order (no fast-math, so no fused
multiply-adds), hence float64 results equal the NumPy path's to the last bit or nearly so;
``tests/engine/test_fused_equals_loop.py`` runs every cell with and without these kernels.

Conventions, as in ``fused.py``: feature-major blocks, one column per sequence; gate blocks in the
internal order (LSTM i f o g, GRU r z n), the sigmoid rows pre-scaled by 1/2 so that
``sigmoid(x) = tanh(x/2)/2 + 1/2``; the ``tanh`` itself stays in NumPy, whose vectorized tanh is
~40x faster than a scalar one here.  ``one`` and ``half`` are passed in the arrays' dtype so that
float32 stays float32 (a Python literal would promote the arithmetic to float64).

Every kernel releases the GIL (``nogil``): the batch chunks of ``fused.py`` run them side by side.
That, more than the saved passes, is what they buy (benchmarks/RESULTS.md): a NumPy step is a
dozen short calls, each taking the GIL, which the two chunk threads then wait on.

The backward kernels write the gradient that the next product reads (W_hh.T dz) into a contiguous
block; ``fused.py`` copies it into its columns of dZ.  Letting BLAS read those columns in place
(row stride T*b) was no faster, and touches one memory page per row of the block.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

numba_version = numba.__version__
_JIT = {"nogil": True, "cache": True}


# ---- input: the one-hot product is a column gather ------------------------------------------------
@njit(**_JIT)
def gather_add(w_in, tokens, wh, z):
    """z = w_in[:, tokens] + wh.  w_in (R, V), tokens (b,), wh and z (R, b)."""
    rows, b = z.shape
    last = w_in.shape[1] - 1
    for r in range(rows):
        w_r, wh_r, z_r = w_in[r], wh[r], z[r]
        for k in range(b):
            v = min(max(tokens[k], 0), last)  # clipped like np.take(mode="clip"): never out of bounds
            z_r[k] = w_r[v] + wh_r[k]


@njit(**_JIT)
def gather(w_in, tokens, z):
    """z = w_in[:, tokens].  w_in (R, V), tokens (b,), z (R, b)."""
    rows, b = z.shape
    last = w_in.shape[1] - 1
    for r in range(rows):
        w_r, z_r = w_in[r], z[r]
        for k in range(b):
            z_r[k] = w_r[min(max(tokens[k], 0), last)]


# ---- vanilla RNN ---------------------------------------------------------------------------------
@njit(**_JIT)
def rnn_backward_step(one, relu, dout_t, dh_next, h, dh_t, da):
    """dh = dout_t + dh_next;  da = dh * act'(a), act' = 1 - h^2 (tanh) or [h > 0] (ReLU).

    Writes dh_t and da (H, b).
    """
    H, b = dh_t.shape
    zero = one - one
    for j in range(H):
        do_j, dn_j, h_j, dh_j, da_j = dout_t[j], dh_next[j], h[j], dh_t[j], da[j]
        for k in range(b):
            dh = do_j[k] + dn_j[k]
            dh_j[k] = dh
            hk = h_j[k]
            if relu:
                da_j[k] = dh * (one if hk > zero else zero)
            else:
                da_j[k] = (one - hk * hk) * dh


# ---- LSTM ----------------------------------------------------------------------------------------
@njit(**_JIT)
def lstm_cell_forward(half, z, c_prev, c):
    """z (4H, b) holds tanh of the [i f o] pre-activations / 2, and g: makes i f o sigmoids in place;
    c = f * c_prev + i * g."""
    H, b = c.shape
    for j in range(H):
        i_j, f_j, o_j, g_j, cp_j, c_j = z[j], z[H + j], z[2 * H + j], z[3 * H + j], c_prev[j], c[j]
        for k in range(b):
            i = i_j[k] * half + half
            f = f_j[k] * half + half
            i_j[k] = i
            f_j[k] = f
            o_j[k] = o_j[k] * half + half
            c_j[k] = f * cp_j[k] + i * g_j[k]


@njit(**_JIT)
def lstm_backward_step(one, dout_t, dh_next, dc_next, a, tanh_c, c_prev, dh_t, dz):
    """The LSTM cell's backward for one step (lstm_cell.py), gates i f o g.

    dh = dout_t + dh_next;  dc = dc_next + dh * o * (1 - tanh(c)^2);
    dz_i = dc * g * i(1-i), dz_f = dc * c_prev * f(1-f), dz_o = dh * tanh(c) * o(1-o),
    dz_g = dc * i * (1-g^2);  dc_next becomes dc * f (in place).
    Writes dh_t (H, b) and dz (4H, b).
    """
    H, b = dh_t.shape
    for j in range(H):
        do_j, dn_j, dcn_j, dh_j = dout_t[j], dh_next[j], dc_next[j], dh_t[j]
        i_j, f_j, o_j, g_j = a[j], a[H + j], a[2 * H + j], a[3 * H + j]
        tc_j, cp_j = tanh_c[j], c_prev[j]
        zi, zf, zo, zg = dz[j], dz[H + j], dz[2 * H + j], dz[3 * H + j]
        for k in range(b):
            dh = do_j[k] + dn_j[k]
            dh_j[k] = dh
            i = i_j[k]
            f = f_j[k]
            o = o_j[k]
            g = g_j[k]
            tc = tc_j[k]
            dc = dcn_j[k] + (one - tc * tc) * o * dh
            zi[k] = (one - i) * i * g * dc
            zf[k] = (one - f) * f * cp_j[k] * dc
            zo[k] = (one - o) * o * tc * dh
            zg[k] = (one - g * g) * i * dc
            dcn_j[k] = dc * f


# ---- GRU -----------------------------------------------------------------------------------------
@njit(**_JIT)
def gru_gates_in(wh, b_hn, a, gh_n):
    """a[:2H] += wh[:2H] (the r, z pre-activations / 2);  gh_n = wh[2H:] + b_hn.  b_hn (H, 1)."""
    H, b = gh_n.shape
    for r in range(2 * H):
        a_r, wh_r = a[r], wh[r]
        for k in range(b):
            a_r[k] = a_r[k] + wh_r[k]
    for j in range(H):
        wh_j, g_j, bias = wh[2 * H + j], gh_n[j], b_hn[j, 0]
        for k in range(b):
            g_j[k] = wh_j[k] + bias


@njit(**_JIT)
def gru_gates_mid(half, a, gh_n):
    """a[:2H] holds tanh of the r, z pre-activations / 2: makes them sigmoids in place;
    then the n pre-activation a[2H:] += r * gh_n."""
    H, b = gh_n.shape
    for j in range(H):
        r_j, z_j, n_j, g_j = a[j], a[H + j], a[2 * H + j], gh_n[j]
        for k in range(b):
            r = r_j[k] * half + half
            r_j[k] = r
            z_j[k] = z_j[k] * half + half
            n_j[k] = n_j[k] + r * g_j[k]


@njit(**_JIT)
def gru_hidden(a, h_prev, h):
    """h = (h_prev - n) * z + n, i.e. (1 - z) * n + z * h_prev."""
    H, b = h.shape
    for j in range(H):
        z_j, n_j, hp_j, h_j = a[H + j], a[2 * H + j], h_prev[j], h[j]
        for k in range(b):
            n = n_j[k]
            h_j[k] = (hp_j[k] - n) * z_j[k] + n


@njit(**_JIT)
def gru_backward_step(one, dout_t, dh_next, a, h_prev, gh_n, dh_t, carry, dgh, dgi_cols, col0):
    """The GRU cell's backward for one step (gru_cell.py), gates r z n.

    dh = dout_t + dh_next;  da_n = dh (1-z)(1-n^2);  da_z = dh (h_prev - n) z(1-z);
    da_r = da_n gh_n r(1-r);  dgi = [da_r, da_z, da_n];  dgh = [da_r, da_z, da_n r];
    carry = dh * z (the direct path to h_prev, added after the product W_hh.T dgh).
    Writes dh_t, carry (H, b), dgh (3H, b) and dgi into columns col0:col0+b of dgi_cols (3H, T*b)
    (dgh feeds the product W_hh.T dgh, which reads a contiguous block fastest).
    """
    H, b = dh_t.shape
    for j in range(H):
        do_j, dn_j, dh_j, c_j = dout_t[j], dh_next[j], dh_t[j], carry[j]
        r_j, z_j, n_j, hp_j, g_j = a[j], a[H + j], a[2 * H + j], h_prev[j], gh_n[j]
        ir, iz = dgi_cols[j, col0 : col0 + b], dgi_cols[H + j, col0 : col0 + b]
        i_n = dgi_cols[2 * H + j, col0 : col0 + b]
        hr, hz, h_n = dgh[j], dgh[H + j], dgh[2 * H + j]
        for k in range(b):
            dh = do_j[k] + dn_j[k]
            dh_j[k] = dh
            r = r_j[k]
            z = z_j[k]
            n = n_j[k]
            omz = one - z
            da_n = (one - n * n) * dh * omz
            da_z = (hp_j[k] - n) * dh * z * omz
            da_r = (one - r) * r * g_j[k] * da_n
            ir[k] = da_r
            iz[k] = da_z
            i_n[k] = da_n
            hr[k] = da_r
            hz[k] = da_z
            h_n[k] = da_n * r
            c_j[k] = dh * z


def warm_up() -> None:
    """Compile (or load from the cache) every kernel for float32 and float64 and run it once on a
    tiny block, so that a numba that cannot compile them fails here, where ``jit.py`` falls back to
    NumPy, and not in the middle of a training step."""
    H, b, T = 2, 3, 2
    tokens = np.zeros(b, np.int64)  # (b,)
    for dtype in (np.float32, np.float64):
        one, half = dtype(1), dtype(0.5)

        def block(rows, dtype=dtype):
            return np.full((rows, b), 0.25, dtype)  # (rows, b)

        gather_add(block(4 * H)[:, :1].copy(), tokens, block(4 * H), block(4 * H))
        gather(block(3 * H)[:, :1].copy(), tokens, block(3 * H))
        for relu in (False, True):
            rnn_backward_step(one, relu, block(H), block(H), block(H), block(H), block(H))
        lstm_cell_forward(half, block(4 * H), block(H), block(H))
        lstm_backward_step(one, block(H), block(H), block(H), block(4 * H), block(H), block(H), block(H), block(4 * H))
        gru_gates_in(block(3 * H), np.zeros((H, 1), dtype), block(3 * H), block(H))
        gru_gates_mid(half, block(3 * H), block(H))
        gru_hidden(block(3 * H), block(H), block(H))
        gru_backward_step(one, block(H), block(H), block(3 * H), block(H), block(H), block(H), block(H), block(3 * H),
                          np.zeros((3 * H, T * b), dtype), b)
