"""The fast path: the same equations as ``loop.py``, arranged for speed.

What changes against the plain loop (and nothing else; ``tests/engine/test_fused_equals_loop.py``):

1. The input projections of all T steps are one matrix product, ``X @ W_ih.T`` of shape (T*B, G*H);
   for integer (one-hot) input it is a row gather of ``W_ih.T``.
2. The gates of a step live side by side in one (B, G*H) buffer, activated in place.
3. The per-step gradients of the gate pre-activations are written into one (T, B, G*H) array, and
   the weight gradients are accumulated after the loop in one product each:
   ``dW_ih = dZ.T @ X`` and ``dW_hh = dZ.T @ H_prev``.
4. Per-step temporaries are preallocated and reused.

Shape legend: B batch, T time, I input, H hidden, G gates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RecurrentConfig, State, zero_state
from .loop import Gradients
from .params import LayerParams
from .trace import LayerTrace, Trace


@dataclass(frozen=True)
class FusedLayerCache:
    x: np.ndarray  # (T, B, I) float input, or (T, B) integer indices (first layer)
    hs: np.ndarray  # (T+1, B, H) h_{-1}=h0, h_0 .. h_{T-1}
    acts: np.ndarray  # (T, B, G*H) activated gates (RNN: h; LSTM: i f g o; GRU: r z n)
    cs: np.ndarray | None  # (T+1, B, H) LSTM cell states, c0 first
    tanh_c: np.ndarray | None  # (T, B, H) LSTM
    gh_n: np.ndarray | None  # (T, B, H) GRU: W_hn h_prev + b_hn
    preact: np.ndarray | None  # (T, B, G*H), RNN relu only (its derivative needs the sign)


@dataclass(frozen=True)
class FusedCache:
    config: RecurrentConfig
    state0: State
    int_input: bool
    layers: tuple[FusedLayerCache, ...]


def _sigmoid_(z: np.ndarray) -> np.ndarray:
    """In place: z <- 1 / (1 + exp(-z)), as 0.5 * tanh(0.5 z) + 0.5 (no overflow)."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z


def _input_projection(x, w_ih, bias, int_input):
    T, B = x.shape[:2]
    if int_input:
        return np.ascontiguousarray(w_ih.T)[x] + bias  # (T, B, G*H) row gather = one-hot product
    return (x.reshape(T * B, -1) @ w_ih.T).reshape(T, B, -1) + bias  # (T, B, G*H)


def _weight_ih_grad(dz2d, x, int_input, w_ih):
    """dW_ih = dZ.T @ X, X one-hot for integer input."""
    if int_input:
        onehot = np.zeros((x.size, w_ih.shape[1]), dtype=dz2d.dtype)  # (T*B, V)
        onehot[np.arange(x.size), x.reshape(-1)] = 1
        return dz2d.T @ onehot  # (G*H, V)
    return dz2d.T @ x.reshape(x.shape[0] * x.shape[1], -1)  # (G*H, I)


def forward(config: RecurrentConfig, params: dict, x: np.ndarray, state: State | None = None, record: bool = False):
    dtype = params["weight_hh_l0"].dtype
    int_input = np.issubdtype(x.dtype, np.integer)
    layer_in = x if int_input else x.astype(dtype, copy=False)
    T, B = x.shape[:2]
    state = zero_state(config, B, dtype) if state is None else state
    H = config.hidden_size
    h_n, c_n, caches, traces = [], [], [], []
    for k in range(config.num_layers):
        p = LayerParams.of(params, k)
        first_int = int_input and k == 0
        hs = np.empty((T + 1, B, H), dtype)  # (T+1, B, H)
        hs[0] = state.h[k]
        w_hh_t = p.weight_hh.T  # (H, G*H) view; BLAS reads it transposed
        pre = None
        cs = tanh_c = gh_n = relu_pre = None
        if config.cell == "rnn":
            acts = _input_projection(layer_in, p.weight_ih, p.bias_ih + p.bias_hh, first_int)  # (T, B, H)
            if record or config.nonlinearity == "relu":
                pre = np.empty_like(acts)
            for t in range(T):
                a = acts[t]  # (B, H)
                a += hs[t] @ w_hh_t
                if pre is not None:
                    pre[t] = a
                if config.nonlinearity == "tanh":
                    np.tanh(a, out=a)
                else:
                    np.maximum(a, 0, out=a)
                hs[t + 1] = a
            relu_pre = pre if config.nonlinearity == "relu" else None
        elif config.cell == "lstm":
            acts = _input_projection(layer_in, p.weight_ih, p.bias_ih + p.bias_hh, first_int)  # (T, B, 4H)
            cs = np.empty((T + 1, B, H), dtype)
            cs[0] = state.c[k]
            tanh_c = np.empty((T, B, H), dtype)
            pre = np.empty_like(acts) if record else None
            tmp = np.empty((B, H), dtype)
            for t in range(T):
                z = acts[t]  # (B, 4H)
                z += hs[t] @ w_hh_t
                if record:
                    pre[t] = z
                _sigmoid_(z[:, : 2 * H])  # i, f
                np.tanh(z[:, 2 * H : 3 * H], out=z[:, 2 * H : 3 * H])  # g
                _sigmoid_(z[:, 3 * H :])  # o
                i, f, g, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
                np.multiply(f, cs[t], out=cs[t + 1])
                np.multiply(i, g, out=tmp)
                cs[t + 1] += tmp  # c = f * c_prev + i * g
                np.tanh(cs[t + 1], out=tanh_c[t])
                np.multiply(o, tanh_c[t], out=hs[t + 1])  # h = o * tanh(c)
        else:  # gru
            acts = _input_projection(layer_in, p.weight_ih, p.bias_ih, first_int)  # (T, B, 3H) = gi
            gh_n = np.empty((T, B, H), dtype)
            pre = np.empty_like(acts) if record else None
            for t in range(T):
                gi = acts[t]  # (B, 3H), becomes [r, z, n]
                gh = hs[t] @ w_hh_t + p.bias_hh  # (B, 3H)
                gi[:, : 2 * H] += gh[:, : 2 * H]
                if record:
                    pre[t, :, : 2 * H] = gi[:, : 2 * H]
                _sigmoid_(gi[:, : 2 * H])  # r, z
                r, zg, n = gi[:, :H], gi[:, H : 2 * H], gi[:, 2 * H :]
                gh_n[t] = gh[:, 2 * H :]
                n += r * gh_n[t]
                if record:
                    pre[t, :, 2 * H :] = n
                np.tanh(n, out=n)
                # h = (1 - z) * n + z * h_prev = n + z * (h_prev - n)
                np.subtract(hs[t], n, out=hs[t + 1])
                hs[t + 1] *= zg
                hs[t + 1] += n
        cache = FusedLayerCache(x=layer_in, hs=hs, acts=acts, cs=cs, tanh_c=tanh_c, gh_n=gh_n, preact=relu_pre)
        caches.append(cache)
        h_n.append(hs[T])
        c_n.append(cs[T] if cs is not None else None)
        if record:
            traces.append(_layer_trace(config, cache, pre))
        layer_in = hs[1:]
    final = State(np.stack(h_n), np.stack(c_n) if config.has_cell_state else None)
    cache = FusedCache(config=config, state0=state, int_input=int_input, layers=tuple(caches))
    trace = Trace(config.cell, tuple(traces)) if record else None
    return layer_in, final, cache, trace


def _layer_trace(config, cache: FusedLayerCache, pre) -> LayerTrace:
    H = config.hidden_size
    h = cache.hs[1:].copy()
    if config.cell == "rnn":
        return LayerTrace(h=h, preact=pre)
    gates = {name: cache.acts[:, :, j * H : (j + 1) * H].copy() for j, name in enumerate(config.gates)}
    c = cache.cs[1:].copy() if cache.cs is not None else None
    return LayerTrace(h=h, preact=pre, gates=gates, c=c)


def backward(params: dict, cache: FusedCache, dout: np.ndarray, dstate: State | None = None) -> Gradients:
    config = cache.config
    H, L = config.hidden_size, config.num_layers
    grads: dict[str, np.ndarray] = {}
    dh0, dc0, dh_all = [None] * L, [None] * L, [None] * L
    d_layer_out = dout
    for k in reversed(range(L)):
        p = LayerParams.of(params, k)
        lc = cache.layers[k]
        T, B = lc.hs.shape[0] - 1, lc.hs.shape[1]
        dtype = lc.hs.dtype
        dh_next = np.zeros((B, H), dtype) if dstate is None else dstate.h[k].astype(dtype, copy=True)
        dh_total = np.empty((T, B, H), dtype)  # (T, B, H)
        dz_all = np.empty_like(lc.acts)  # (T, B, G*H) gradient of the gate pre-activations
        if config.cell == "rnn":
            for t in reversed(range(T)):
                dh = np.add(d_layer_out[t], dh_next, out=dh_total[t])  # (B, H)
                da = dz_all[t]
                if config.nonlinearity == "tanh":
                    h = lc.hs[t + 1]
                    np.multiply(h, h, out=da)
                    np.subtract(1, da, out=da)
                    da *= dh  # da = dh * (1 - h^2)
                else:
                    np.multiply(dh, lc.preact[t] > 0, out=da)
                dh_next = da @ p.weight_hh  # (B, H)
            dgh_all = dz_all
        elif config.cell == "lstm":
            dc_next = np.zeros((B, H), dtype) if dstate is None or dstate.c is None else dstate.c[k].astype(dtype, copy=True)
            dc = np.empty((B, H), dtype)
            tmp = np.empty((B, H), dtype)
            for t in reversed(range(T)):
                dh = np.add(d_layer_out[t], dh_next, out=dh_total[t])  # (B, H)
                a = lc.acts[t]
                i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
                tc = lc.tanh_c[t]
                dz = dz_all[t]
                dz_i, dz_f, dz_g, dz_o = dz[:, :H], dz[:, H : 2 * H], dz[:, 2 * H : 3 * H], dz[:, 3 * H :]
                # dc = dc_next + dh * o * (1 - tanh(c)^2)
                np.multiply(tc, tc, out=tmp)
                np.subtract(1, tmp, out=tmp)
                tmp *= o
                tmp *= dh
                np.add(dc_next, tmp, out=dc)
                # dz_o = dh * tanh(c) * o * (1 - o)
                np.subtract(1, o, out=dz_o)
                dz_o *= o
                dz_o *= tc
                dz_o *= dh
                # dz_i = dc * g * i * (1 - i)
                np.subtract(1, i, out=dz_i)
                dz_i *= i
                dz_i *= g
                dz_i *= dc
                # dz_f = dc * c_prev * f * (1 - f)
                np.subtract(1, f, out=dz_f)
                dz_f *= f
                dz_f *= lc.cs[t]
                dz_f *= dc
                # dz_g = dc * i * (1 - g^2)
                np.multiply(g, g, out=dz_g)
                np.subtract(1, dz_g, out=dz_g)
                dz_g *= i
                dz_g *= dc
                np.multiply(dc, f, out=dc_next)  # dc_prev = dc * f
                dh_next = dz @ p.weight_hh  # (B, H)
            dc0[k] = dc_next
            dgh_all = dz_all
        else:  # gru
            dgh_all = np.empty_like(lc.acts)  # (T, B, 3H) gradient of W_hh h + b_hh
            for t in reversed(range(T)):
                dh = np.add(d_layer_out[t], dh_next, out=dh_total[t])  # (B, H)
                a = lc.acts[t]
                r, zg, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
                dgi = dz_all[t]
                da_r, da_z, da_n = dgi[:, :H], dgi[:, H : 2 * H], dgi[:, 2 * H :]
                h_prev = lc.hs[t]
                # da_n = dh * (1 - z) * (1 - n^2)
                np.multiply(n, n, out=da_n)
                np.subtract(1, da_n, out=da_n)
                da_n *= dh
                da_n *= 1 - zg
                # da_z = dh * (h_prev - n) * z * (1 - z)
                np.subtract(h_prev, n, out=da_z)
                da_z *= dh
                da_z *= zg
                da_z *= 1 - zg
                # da_r = da_n * gh_n * r * (1 - r)
                np.multiply(da_n, lc.gh_n[t], out=da_r)
                da_r *= r
                da_r *= 1 - r
                dgh = dgh_all[t]
                dgh[:, : 2 * H] = dgi[:, : 2 * H]
                np.multiply(da_n, r, out=dgh[:, 2 * H :])
                dh_next = dgh @ p.weight_hh  # (B, H)
                dh_next += dh * zg
        # After the loop: weight gradients in one product each.
        TB = T * B
        dz2d = dz_all.reshape(TB, -1)  # (T*B, G*H)
        dgh2d = dgh_all.reshape(TB, -1)  # (T*B, G*H)
        first_int = cache.int_input and k == 0
        grads[f"weight_ih_l{k}"] = _weight_ih_grad(dz2d, lc.x, first_int, p.weight_ih)
        grads[f"weight_hh_l{k}"] = dgh2d.T @ lc.hs[:-1].reshape(TB, H)  # (G*H, H)
        grads[f"bias_ih_l{k}"] = dz2d.sum(axis=0)
        grads[f"bias_hh_l{k}"] = dgh2d.sum(axis=0) if config.cell == "gru" else grads[f"bias_ih_l{k}"].copy()
        dh0[k], dh_all[k] = dh_next, dh_total
        if not first_int:
            d_layer_out = (dz2d @ p.weight_ih).reshape(T, B, -1)  # (T, B, I_k)
    return Gradients(
        params={name: grads[name] for name in params if name in grads},
        dx=None if cache.int_input else d_layer_out,
        dh0=np.stack(dh0),
        dc0=np.stack(dc0) if config.has_cell_state else None,
        dh=np.stack(dh_all),
    )
