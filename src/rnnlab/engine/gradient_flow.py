"""Gradient flow through time, measured on a live network from the hand-written BPTT.

Why gradients vanish or explode, in the model's own numbers.  For a loss L read at the last step
T-1, backpropagation through time multiplies the gradient by one Jacobian per step::

    dL/dh_t = J_{t+1}.T @ dL/dh_{t+1}           J_t = dh_t / dh_{t-1}   (state Jacobian of step t)
    dL/dh_t = (J_{T-1} ... J_{t+1}).T @ dL/dh_{T-1}

so ||dL/dh_t|| follows the running product of the J's: it shrinks exponentially when their norms sit
below 1 and grows exponentially above 1.  The Jacobians in closed form (x_t fixed)::

    RNN    J_t = diag(act'(a_t)) @ W_hh                       act' = 1 - h_t**2 (tanh), [a_t > 0] (ReLU)
           ||J_t|| <= max act' * ||W_hh||, so with tanh (act' <= 1) ||W_hh||_2 < 1 guarantees vanishing.
    GRU    J_t = diag(z) + diag(1-z) dn + diag(h_prev - n) diag(z(1-z)) W_hz
           dn  = diag(1 - n**2) (diag(r) W_hn + diag(gh_n) diag(r(1-r)) W_hr),  gh_n = W_hn h_prev + b_hn
    LSTM   the state is s_t = [h_t; c_t] (2H), and J_t = ds_t/ds_{t-1} is (2H, 2H):
           dc/dc_prev = diag(f)                                 (the "constant error carousel")
           dc/dh_prev = diag(c_prev f(1-f)) W_hf + diag(g i(1-i)) W_hi + diag(i (1-g**2)) W_hg
           dh/dh_prev = diag(tanh(c) o(1-o)) W_ho + diag(o (1 - tanh(c)**2)) dc/dh_prev
           dh/dc_prev = diag(o (1 - tanh(c)**2) f)

(W_hi, W_hf, ... are the gate blocks of ``weight_hh``, rows in PyTorch's gate order.)

What is measured here:

- ``gradient_flow``: ||dL/dh_t|| for every step and layer, for a last-step or a per-step loss,
  straight from ``Gradients.dh`` (the BPTT's total gradient reaching each hidden state);
- ``step_jacobians`` / ``jacobian_report``: J_t per step from the trace, their spectral norms, their
  singular values (small H), and the running products ||dh_t/dh_0|| and ||dh_{T-1}/dh_t||;
- ``recurrent_spectral_radius``: the largest |eigenvalue| of each gate block of W_hh;
- ``activation_factors``: the mean per-step factors that multiply the gradient (tanh' for the RNN,
  the forget gate f for the LSTM's cell path, the update gate z for the GRU's carry path).

Shape legend: B batch, T time, H hidden, L layers, S state size (H; 2H for the LSTM).
Proved by ``tests/engine/test_gradient_flow.py`` (finite differences, and the lesson itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RecurrentConfig, State
from .init import spectral_radius_of
from .params import LayerParams
from .trace import Trace

LOSS_KINDS = ("last", "per_step")

# What each activation factor means, for the views.
FACTOR_DOC = {
    "act_derivative": "act'(a_t), the activation's derivative: every step multiplies the gradient by it",
    "forget": "forget gate f_t: the LSTM's cell path multiplies the gradient by f_t per step",
    "update": "update gate z_t: the GRU's carry path multiplies the gradient by z_t per step",
    "candidate_derivative": "1 - tanh^2 of the candidate (LSTM g_t, GRU n_t)",
}


# ---- 1. gradient norms per step, from BPTT -------------------------------------------------------


def probe_gradient(out: np.ndarray, loss: str = "last", direction: np.ndarray | None = None) -> np.ndarray:
    """dL/d(out) for a linear probe loss, the cleanest way to watch gradient flow.

    ``last``:     L = sum_b w . h_{T-1, b}           a unit gradient enters at the last step only
    ``per_step``: L = sum_b sum_t w . h_{t, b} / T   the same unit gradient spread over every step

    ``w`` is ``direction`` normalised to length 1 (default: all ones / sqrt(H)).
    """
    if loss not in LOSS_KINDS:
        raise ValueError(f"loss must be one of {LOSS_KINDS}, got {loss!r}")
    T, B, H = out.shape
    w = np.ones(H) if direction is None else np.asarray(direction, dtype=np.float64)
    if w.shape != (H,) or not np.linalg.norm(w) > 0:
        raise ValueError(f"direction must be a non-zero vector of length {H}")
    w = (w / np.linalg.norm(w)).astype(out.dtype)  # (H,)
    dout = np.zeros_like(out)  # (T, B, H)
    if loss == "last":
        dout[-1] = w
    else:
        dout[:] = w / T
    return dout


def hidden_gradient_norms(dh: np.ndarray) -> np.ndarray:
    """dh (L, T, B, H) = dL/dh_t -> (L, T): the batch mean of each sequence's ||dL/dh_t||."""
    return np.linalg.norm(dh.astype(np.float64), axis=-1).mean(axis=-1)  # (L, T)


@dataclass(frozen=True)
class GradientFlow:
    """||dL/dh_t|| for every layer and step, and the loss it came from."""

    cell: str
    loss: str  # "last" | "per_step" | "task"
    norms: np.ndarray  # (L, T)

    def ratio(self, layer: int = -1) -> float:
        """||dL/dh_0|| / ||dL/dh_{T-1}||: how much of the gradient reaches the first step."""
        first, last = float(self.norms[layer, 0]), float(self.norms[layer, -1])
        return first / last if last > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"cell": self.cell, "loss": self.loss, "norms": self.norms.tolist(), "ratio": _finite(self.ratio())}


def gradient_flow(net, x: np.ndarray, loss: str = "last", state: State | None = None,
                  direction: np.ndarray | None = None) -> GradientFlow:
    """Run ``net`` (a ``Recurrent``) on x, backpropagate a probe loss, return ||dL/dh_t|| per layer and step."""
    out, _, cache = net.forward(x, state)  # out (T, B, H)
    grads = net.backward(cache, probe_gradient(out, loss, direction))
    return GradientFlow(net.config.cell, loss, hidden_gradient_norms(grads.dh))


# ---- 2. the per-step Jacobians, from the trace --------------------------------------------------


def step_jacobians(config: RecurrentConfig, params: dict[str, np.ndarray], trace: Trace, layer: int = 0,
                   batch_index: int = 0, state: State | None = None) -> np.ndarray:
    """J_t = ds_t / ds_{t-1} for every step t of one sequence: (T, S, S), S = H (2H for the LSTM).

    Needs a trace recorded with ``record=True`` and the initial state used for it (default zeros).
    """
    if not 0 <= layer < config.num_layers:
        raise ValueError(f"layer must lie in [0, {config.num_layers}), got {layer}")
    lt = trace.layers[layer]
    T, B, H = lt.h.shape
    if not 0 <= batch_index < B:
        raise ValueError(f"batch_index must lie in [0, {B}), got {batch_index}")
    b = batch_index
    p = LayerParams.of(params, layer)
    w = p.weight_hh.astype(np.float64)  # (G*H, H)
    h0 = np.zeros(H) if state is None else state.h[layer, b].astype(np.float64)  # (H,)
    hs = np.concatenate([h0[None], lt.h[:, b].astype(np.float64)])  # (T+1, H): h_{-1}, h_0 .. h_{T-1}
    if config.cell == "rnn":
        return _rnn_jacobians(lt.preact[:, b], hs, w, config.nonlinearity)
    if config.cell == "gru":
        return _gru_jacobians(lt, b, hs, w, p.bias_hh.astype(np.float64), H)
    c0 = np.zeros(H) if state is None or state.c is None else state.c[layer, b].astype(np.float64)
    cs = np.concatenate([c0[None], lt.c[:, b].astype(np.float64)])  # (T+1, H)
    return _lstm_jacobians(lt, b, cs, w, H)


def _rnn_jacobians(preact, hs, w_hh, nonlinearity) -> np.ndarray:
    a = preact.astype(np.float64)  # (T, H)
    h = hs[1:]  # (T, H)
    d_act = 1.0 - h * h if nonlinearity == "tanh" else (a > 0).astype(np.float64)  # (T, H)
    return d_act[:, :, None] * w_hh[None]  # (T, H, H) = diag(act') @ W_hh


def _gru_jacobians(lt, b, hs, w_hh, b_hh, H) -> np.ndarray:
    w_hr, w_hz, w_hn = w_hh[:H], w_hh[H : 2 * H], w_hh[2 * H :]  # each (H, H)
    r = lt.gates["r"][:, b].astype(np.float64)  # (T, H)
    z = lt.gates["z"][:, b].astype(np.float64)  # (T, H)
    n = lt.gates["n"][:, b].astype(np.float64)  # (T, H)
    h_prev = hs[:-1]  # (T, H)
    gh_n = h_prev @ w_hn.T + b_hh[2 * H :]  # (T, H) = W_hn h_prev + b_hn
    dr = (r * (1 - r))[:, :, None] * w_hr[None]  # (T, H, H) dr/dh_prev
    dz = (z * (1 - z))[:, :, None] * w_hz[None]  # (T, H, H) dz/dh_prev
    dn = (1 - n * n)[:, :, None] * (r[:, :, None] * w_hn[None] + gh_n[:, :, None] * dr)  # (T, H, H)
    eye = np.eye(H)[None] * z[:, :, None]  # (T, H, H) = diag(z)
    return eye + (1 - z)[:, :, None] * dn + (h_prev - n)[:, :, None] * dz  # (T, H, H)


def _lstm_jacobians(lt, b, cs, w_hh, H) -> np.ndarray:
    w_hi, w_hf, w_hg, w_ho = (w_hh[j * H : (j + 1) * H] for j in range(4))  # each (H, H)
    i, f, g, o = (lt.gates[name][:, b].astype(np.float64) for name in ("i", "f", "g", "o"))  # each (T, H)
    c_prev, c = cs[:-1], cs[1:]  # (T, H)
    tanh_c = np.tanh(c)  # (T, H)
    col = lambda v: v[:, :, None]
    dc_dh = col(c_prev * f * (1 - f)) * w_hf + col(g * i * (1 - i)) * w_hi + col(i * (1 - g * g)) * w_hg  # (T, H, H)
    dh_dh = col(tanh_c * o * (1 - o)) * w_ho + col(o * (1 - tanh_c**2)) * dc_dh  # (T, H, H)
    T = i.shape[0]
    jac = np.zeros((T, 2 * H, 2 * H))  # (T, 2H, 2H), state [h; c]
    idx = np.arange(H)
    jac[:, :H, :H] = dh_dh
    jac[:, idx, H + idx] = o * (1 - tanh_c**2) * f  # dh/dc_prev (diagonal)
    jac[:, H:, :H] = dc_dh
    jac[:, H + idx, H + idx] = f  # dc/dc_prev = diag(f)
    return jac


@dataclass(frozen=True)
class JacobianReport:
    """The per-step Jacobians of one sequence, summarised."""

    norms: np.ndarray  # (T,) spectral norm ||J_t||_2
    singular_values: np.ndarray | None  # (T, S) descending, when S is small enough
    product_from_start: np.ndarray  # (T,) ||J_t ... J_0||_2 = ||dh_t / dh_{-1}|| (h_{-1}: initial state)
    product_to_end: np.ndarray  # (T,) ||J_{T-1} ... J_{t+1}||_2 = ||dh_{T-1} / dh_t|| (1 at t = T-1)

    def to_dict(self) -> dict:
        sv = None if self.singular_values is None else _finite_list(self.singular_values)
        return {
            "norms": _finite_list(self.norms),
            "singular_values": sv,
            "product_from_start": _finite_list(self.product_from_start),
            "product_to_end": _finite_list(self.product_to_end),
        }


def jacobian_report(jacobians: np.ndarray, max_singular_size: int = 64, from_start: bool = True) -> JacobianReport:
    """Norms, singular values (if S <= max_singular_size) and running products of J (T, S, S).

    ``from_start=False`` skips the forward products (left as NaN): half the work for large S.
    """
    T, S, _ = jacobians.shape
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(jacobians).all(axis=(1, 2))  # (T,)
        svals = np.full((T, S), np.inf)  # (T, S)
        if finite.any():
            svals[finite] = np.linalg.svd(jacobians[finite], compute_uv=False)
        norms = svals[:, 0].copy()
        starts, to_end = np.full(T, np.nan), np.empty(T)
        if from_start:
            product = np.eye(S)  # (S, S) = dh_t / dh_{-1}
            for t in range(T):
                product = jacobians[t] @ product
                starts[t] = _spectral_norm(product)
        product = np.eye(S)  # (S, S) = dh_{T-1} / dh_t
        for t in reversed(range(T)):
            to_end[t] = _spectral_norm(product)
            product = product @ jacobians[t]
    return JacobianReport(norms, svals if S <= max_singular_size else None, starts, to_end)


def _spectral_norm(m: np.ndarray) -> float:
    if not np.isfinite(m).all():
        return float("inf")
    return float(np.linalg.norm(m, 2))


# ---- 3. the numbers behind the explanation ------------------------------------------------------


def recurrent_spectral_radius(config: RecurrentConfig, params: dict[str, np.ndarray]) -> np.ndarray:
    """(L, G): the largest |eigenvalue| of each gate block of W_hh, per layer."""
    H, G = config.hidden_size, len(config.gates)
    out = np.empty((config.num_layers, G))  # (L, G)
    for k in range(config.num_layers):
        w = params[f"weight_hh_l{k}"]  # (G*H, H)
        for j in range(G):
            out[k, j] = spectral_radius_of(w[j * H : (j + 1) * H])
    return out


def activation_factors(config: RecurrentConfig, trace: Trace) -> dict[str, np.ndarray]:
    """name -> (L, T): the batch-and-unit mean of each per-step factor that multiplies the gradient.

    RNN: ``act_derivative``; LSTM: ``forget``, ``candidate_derivative``; GRU: ``update``,
    ``candidate_derivative`` (meanings in ``FACTOR_DOC``).
    """
    factors: dict[str, list] = {}
    for lt in trace.layers:
        if config.cell == "rnn":
            h = lt.h.astype(np.float64)  # (T, B, H)
            d = 1 - h * h if config.nonlinearity == "tanh" else (lt.preact > 0).astype(np.float64)  # (T, B, H)
            named = {"act_derivative": d}
        elif config.cell == "lstm":
            g = lt.gates["g"].astype(np.float64)  # (T, B, H)
            named = {"forget": lt.gates["f"], "candidate_derivative": 1 - g * g}
        else:
            n = lt.gates["n"].astype(np.float64)  # (T, B, H)
            named = {"update": lt.gates["z"], "candidate_derivative": 1 - n * n}
        for name, value in named.items():
            factors.setdefault(name, []).append(np.asarray(value, dtype=np.float64).mean(axis=(1, 2)))  # (T,)
    return {name: np.stack(rows) for name, rows in factors.items()}  # each (L, T)


# ---- 4. everything at once, for a view ----------------------------------------------------------


@dataclass(frozen=True)
class FlowReport:
    flow: GradientFlow
    jacobians: JacobianReport  # layer 0, sequence 0
    spectral_radius: np.ndarray  # (L, G)
    factors: dict[str, np.ndarray]  # name -> (L, T)

    def to_dict(self) -> dict:
        return {
            "flow": self.flow.to_dict(),
            "jacobians": self.jacobians.to_dict(),
            "spectral_radius": self.spectral_radius.tolist(),
            "factors": {name: v.tolist() for name, v in self.factors.items()},
        }


def measure(net, x: np.ndarray, loss: str = "last", state: State | None = None, layer: int = 0,
            max_singular_size: int = 64) -> FlowReport:
    """Gradient norms, Jacobians (one layer, first sequence), spectral radii and activation factors."""
    out, _, cache = net.forward(x, state, record=True)  # out (T, B, H)
    grads = net.backward(cache, probe_gradient(out, loss))
    flow = GradientFlow(net.config.cell, loss, hidden_gradient_norms(grads.dh))
    jac = step_jacobians(net.config, net.params, cache.trace, layer=layer, state=state)
    return FlowReport(
        flow=flow,
        jacobians=jacobian_report(jac, max_singular_size),
        spectral_radius=recurrent_spectral_radius(net.config, net.params),
        factors=activation_factors(net.config, cache.trace),
    )


def _finite(v: float) -> float | None:
    """JSON has no inf or NaN: those become None."""
    return float(v) if np.isfinite(v) else None


def _finite_list(a: np.ndarray) -> list:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim > 1:
        return [_finite_list(row) for row in a]
    return [_finite(v) for v in a]
