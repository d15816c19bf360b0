"""The numbers of the page's "Vanishing Gradient Problem" section: RNN, LSTM and GRU side by side.

``gradient_curves(spec)`` builds the three cells with the same seed and the same settings (sequence
length, hidden size, recurrent scale, activation, initialization, skip across time, attention; the
LSTM's forget-gate bias), feeds
them the same batch of remember-the-first-symbol sequences (``data.memory_tasks``: the answer at the
last step depends on the first), and reports for each cell:

- ``norms``: ||d loss / d h_t|| for t = 1..T (the batch mean, per-sequence loss), from BPTT;
- ``clipped_norms``: the same after gradient clipping.  Clipping rescales the whole gradient by one
  factor min(1, c / ||g||) (by norm), so the curve keeps its shape: clipping tames an exploding
  update, it does not bring back a vanished gradient.  ``param_norm`` and ``param_norm_clipped`` are
  the global parameter-gradient norms before and after;
- the explanation's numbers, from the model itself: the mean activation derivative per step
  (tanh' for the RNN; the forget gate f for the LSTM's cell path; the update gate z for the GRU), the
  spectral radius and norm of W_hh, the per-step Jacobian norms ||dh_t/dh_{t-1}|| and their running
  product ||dh_T/dh_t|| (without skip or attention: those add paths the Jacobians do not show).

``gradient_check(spec, cell)`` compares the hand-written BPTT gradient of every parameter of a small
float64 model with central finite differences and returns both, entry by entry, with the relative error.

Shape legend: B batch, T time, H hidden.  Proved by ``tests/tasks/test_gradient_lab.py``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..data.memory_tasks import make_task
from ..engine import CELL_GATES, INIT_SCHEMES, global_norm, relative_error
from ..engine.blas import single_threaded
from ..engine.gradient_flow import FACTOR_DOC, activation_factors, jacobian_report, step_jacobians
from .memory import ClipConfig, MemoryModel, MemoryModelConfig, clip_gradients

CELLS = ("rnn", "lstm", "gru")
SEQ_LEN_RANGE = (2, 200)
HIDDEN_RANGE = (2, 64)
CHECK_SEQ_LEN_MAX = 30
CHECK_HIDDEN_MAX = 16
FORGET_BIAS_MAX = 5.0  # sigmoid(5) = 0.993: the cell path all but open
BATCH = 8  # sequences averaged in the curves


@dataclass(frozen=True)
class LabSpec:
    """The section's controls."""

    seq_len: int = 50  # T
    hidden_size: int = 16  # H
    recurrent_scale: float = 1.0  # W_hh multiplied by this after initialization
    forget_bias: float = 0.0  # LSTM: added to the forget gate's bias after initialization (opens the cell path)
    activation: str = "tanh"  # vanilla RNN only
    init: str = "pytorch"
    clip: str = "none"  # "none" | "norm" | "value"
    clip_threshold: float = 1.0
    time_skip: int = 0  # K > 0: h[t] also fed by h[t-K]
    attention: str = "none"  # "none" | "dot" | "additive"
    seed: int = 0

    def __post_init__(self) -> None:
        lo, hi = SEQ_LEN_RANGE
        if not lo <= self.seq_len <= hi:
            raise ValueError(f"seq_len must be between {lo} and {hi}, got {self.seq_len}")
        lo, hi = HIDDEN_RANGE
        if not lo <= self.hidden_size <= hi:
            raise ValueError(f"hidden_size must be between {lo} and {hi}, got {self.hidden_size}")
        if not (math.isfinite(self.recurrent_scale) and self.recurrent_scale >= 0):
            raise ValueError(f"recurrent_scale must be a finite number >= 0, got {self.recurrent_scale}")
        if not (math.isfinite(self.forget_bias) and 0 <= self.forget_bias <= FORGET_BIAS_MAX):
            raise ValueError(f"forget_bias must be between 0 and {FORGET_BIAS_MAX:g}, got {self.forget_bias}")
        if self.init not in INIT_SCHEMES:
            raise ValueError(f"init must be one of {INIT_SCHEMES}, got {self.init!r}")
        if self.attention not in ("none", "dot", "additive"):
            raise ValueError(f"attention must be none, dot or additive, got {self.attention!r}")
        ClipConfig(self.clip, self.clip_threshold)  # validates both
        if not 0 <= self.time_skip < self.seq_len:
            raise ValueError(f"time_skip must be between 0 and seq_len - 1 = {self.seq_len - 1}, got {self.time_skip}")

    def model_config(self, cell: str) -> MemoryModelConfig:
        return MemoryModelConfig(cell, self.hidden_size, 1, self.activation, time_skip=self.time_skip,
                                 attention=None if self.attention == "none" else self.attention)

    def to_dict(self) -> dict:
        return asdict(self)


def build_model(spec: LabSpec, cell: str, dtype=np.float64) -> MemoryModel:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    task = make_task("first", spec.seq_len - 1)
    model = MemoryModel(task, spec.model_config(cell), rng=np.random.default_rng(spec.seed), dtype=dtype,
                        init=spec.init)
    model.params["rnn.weight_hh_l0"] *= spec.recurrent_scale
    if cell == "lstm":  # the forget gate's block of rows, in PyTorch's gate order
        H, f = spec.hidden_size, CELL_GATES["lstm"].index("f")
        model.params["rnn.bias_ih_l0"][f * H : (f + 1) * H] += spec.forget_bias
    return model


def lab_batch(spec: LabSpec, batch: int = BATCH):
    """The same input for every cell: remember-the-first-symbol sequences of length seq_len."""
    return make_task("first", spec.seq_len - 1).sample(batch, np.random.default_rng(spec.seed + 1))


def gradient_curves(spec: LabSpec) -> dict:
    """{"spec", "cells": {cell: {...}}, "factor_doc"}: see the module docstring."""
    batch = lab_batch(spec)
    # Hundreds of small SVDs: split over BLAS threads they wait on each other (8x slower on a busy machine).
    with np.errstate(all="ignore"), single_threaded():  # an exploding network is shown, not refused
        cells = {cell: _curves(spec, cell, batch) for cell in CELLS}
    return {"spec": spec.to_dict(), "cells": cells, "factor_doc": FACTOR_DOC}


def _curves(spec: LabSpec, cell: str, batch) -> dict:
    model = build_model(spec, cell)
    result, grads, g = model.loss_and_grads(batch)
    B = batch.batch_size
    norms = np.linalg.norm(g.dh[0], axis=-1).mean(axis=-1) * B  # (T,) per-sequence loss
    raw, clipped_norm, clipped = clip_gradients(grads, ClipConfig(spec.clip, spec.clip_threshold))
    factor = clipped_norm / raw if raw > 0 and math.isfinite(raw) else 1.0
    rcfg = model.rconfig
    body = {k[4:]: v for k, v in model.params.items() if k.startswith("rnn.")}
    _, _, cache = _plain_trace(model, batch)
    jac = jacobian_report(step_jacobians(rcfg, body, cache.trace), max_singular_size=0, from_start=False)
    H = spec.hidden_size
    w_hh = body["weight_hh_l0"]  # (G*H, H)
    blocks = [w_hh[j * H : (j + 1) * H] for j in range(len(rcfg.gates))]
    factors = activation_factors(rcfg, cache.trace)
    return {
        "norms": _list(norms),
        "clipped_norms": _list(norms * factor),
        "ratio": _num(norms[0] / norms[-1]) if norms[-1] > 0 else None,
        "loss": _num(result.loss),
        "param_norm": _num(raw),
        "param_norm_clipped": _num(clipped_norm),
        "clipped": bool(clipped),
        "spectral_radius": [_num(_radius(b)) for b in blocks],
        "weight_hh_norm": [_num(np.linalg.norm(b, 2)) for b in blocks],
        "gates": list(rcfg.gates),
        "factors": {name: _list(v[0]) for name, v in factors.items()},  # name -> (T,)
        "factor_means": {name: _num(v[0].mean()) for name, v in factors.items()},
        "jacobian_norms": _list(jac.norms),
        "product_to_end": _list(jac.product_to_end),
        "exact_paths": spec.time_skip == 0 and spec.attention == "none",
    }


def _plain_trace(model: MemoryModel, batch):
    """The recurrent body's trace without skip or attention (what the per-step Jacobians describe)."""
    from ..engine import Recurrent

    body = {k[4:]: v for k, v in model.params.items() if k.startswith("rnn.") and "skip" not in k}
    return Recurrent(model.rconfig, body).forward(batch.x, record=True)


def _radius(block: np.ndarray) -> float:
    if not np.isfinite(block).all():
        return float("inf")
    return float(np.max(np.abs(np.linalg.eigvals(block))))


def gradient_check(spec: LabSpec, cell: str, entries: int = 12) -> dict:
    """The hand-written BPTT gradient against central finite differences (float64), parameter by parameter.

    For each parameter array, ``entries`` entries picked at random (seeded; all of them if the array
    is smaller) are perturbed (``_central_difference``); both gradients of those entries and their relative error
    ``max |a - n| / (max |a| + max |n|)`` are returned.
    """
    if spec.seq_len > CHECK_SEQ_LEN_MAX or spec.hidden_size > CHECK_HIDDEN_MAX:
        raise ValueError(f"the gradient check runs on a small model: seq_len <= {CHECK_SEQ_LEN_MAX} and "
                         f"hidden_size <= {CHECK_HIDDEN_MAX} (got {spec.seq_len} and {spec.hidden_size})")
    model = build_model(spec, cell)
    batch = lab_batch(spec, batch=2)
    rng = np.random.default_rng(spec.seed)
    smooth = cell != "rnn" or spec.activation == "tanh"

    def loss() -> float:
        outputs, _ = model.forward(batch.x, batch.query_steps)
        return model.loss(outputs, batch.targets).loss

    tol = 1e-6
    rows = []
    with np.errstate(all="ignore"):
        _, grads, _ = model.loss_and_grads(batch)
        L = loss()
        # the smallest change of L that float64 can show, over the step: what finite differences cannot see
        floor = np.finfo(np.float64).eps * abs(L) / _step_size(smooth) if math.isfinite(L) else math.inf
        for name, value in model.params.items():
            flat = value.reshape(-1)
            picked = np.sort(rng.choice(flat.size, size=min(entries, flat.size), replace=False))  # (n,)
            analytic = grads[name].reshape(-1)[picked]  # (n,)
            numeric = np.array([_central_difference(loss, flat, j, smooth) for j in picked])  # (n,)
            halved = np.array([_central_difference(loss, flat, j, smooth, 0.5) for j in picked])  # (n,) half the step
            scale = float(np.max(np.abs(np.concatenate([analytic, numeric])))) if picked.size else 0.0
            # finite differences can judge this parameter only if they do not move with the step size and
            # the loss's rounding stays below the tolerance
            spread = _num(relative_error(numeric, halved))
            resolvable = spread is not None and spread < tol and floor < tol * max(scale, 1e-300)
            rows.append({"name": name, "shape": list(value.shape), "entries": picked.tolist(),
                         "relative_error": _num(relative_error(analytic, numeric)),
                         "analytic": _list(analytic), "numeric": _list(numeric),
                         "finite_difference_spread": spread, "resolvable": bool(resolvable)})
    errors = [r["relative_error"] for r in rows]
    worst = None if any(e is None for e in errors) else max(errors)
    judged = [r for r in rows if r["resolvable"]]
    unresolved = [r["name"] for r in rows if not r["resolvable"] and not (r["relative_error"] is not None
                                                                          and r["relative_error"] < tol)]
    ok = all(r["relative_error"] is not None and r["relative_error"] < tol for r in judged)  # none judged wrong
    return {"cell": cell, "spec": spec.to_dict(), "parameters": rows, "max_relative_error": worst,
            "tolerance": tol, "ok": ok, "unresolved": unresolved, "loss": _num(L),
            "method": ("five-point stencil, eps 1e-4" if smooth
                       else "central difference, eps 1e-6 (ReLU: piecewise linear)"),
            "num_params": int(sum(v.size for v in model.params.values())), "global_norm": _num(global_norm(grads))}


def _step_size(smooth: bool) -> float:
    """The finite-difference step: 1e-4 for the five-point stencil, 1e-6 on a ReLU network's linear pieces."""
    return 1e-4 if smooth else 1e-6


def _central_difference(f, flat: np.ndarray, j: int, smooth: bool = True, step: float = 1.0) -> float:
    """df/dp_j, perturbing flat[j] in place and restoring it; ``step`` scales eps (a second estimate
    at half the step shows whether finite differences can be trusted at this point).

    Smooth models (tanh, sigmoid): the five-point stencil with eps = 1e-4, error O(eps^4)::

        (-f(p + 2e) + 8 f(p + e) - 8 f(p - e) + f(p - 2e)) / (12 eps)

    whose float64 rounding noise (~1e-12) is a hundred times below the two-point formula's at its
    best eps, so entries as small as 1e-5 are still checked to 1e-6 relative.  A ReLU network is
    piecewise linear: there the two-point formula with eps = 1e-6 stays on one linear piece (a large
    step would cross the kinks, where the derivative jumps) and is exact up to rounding.
    """
    old = flat[j]
    eps = _step_size(smooth) * step
    if smooth:
        ks, weights, denom = (2, 1, -1, -2), (-1, 8, -8, 1), 12
    else:
        ks, weights, denom = (1, -1), (1, -1), 2
    total = 0.0
    for k, w in zip(ks, weights):
        flat[j] = old + k * eps
        total += w * f()
    flat[j] = old
    return total / (denom * eps)


def _num(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _list(a) -> list:
    return [_num(v) for v in np.asarray(a, dtype=np.float64).ravel()]
