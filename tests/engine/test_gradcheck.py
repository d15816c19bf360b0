"""Hand-written BPTT against central finite differences (float64), shapes drawn by Hypothesis.

For every cell (RNN tanh/ReLU, LSTM, GRU), 1-3 layers, float and one-hot input, both
implementations: parameter gradients, input gradients, initial-state gradients and every dL/dh_t
agree with finite differences to a relative error < 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.reference_loss import loss_value, loss_weights, perturbed_loss

from rnnlab.engine import (
    Recurrent,
    RecurrentConfig,
    State,
    linear_backward,
    linear_forward,
    numerical_gradient,
    relative_error,
    softmax_cross_entropy,
)

TOL = 1e-6
# Central differences carry a round-off error of about 1e-16 * |L| / eps ~ 1e-10 whatever the gradient;
# an array whose entries are all below TINY cannot be resolved to 1e-6 relative, so it is held to an
# absolute error of ABS_TOL instead (ReLU networks with dead paths produce such arrays).
TINY, ABS_TOL = 1e-3, 1e-9


def agrees(analytic, numeric) -> tuple[bool, str]:
    scale = max(float(np.abs(analytic).max(initial=0)), float(np.abs(numeric).max(initial=0)))
    if scale < TINY:
        err = float(np.abs(analytic - numeric).max(initial=0))
        return err < ABS_TOL, f"absolute error {err:.2e} (entries below {TINY})"
    err = relative_error(analytic, numeric)
    return err < TOL, f"relative error {err:.2e}"
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def make_case(cell, nonlinearity, T, B, I, H, L, int_input, seed, impl):
    rng = np.random.default_rng(seed)
    config = RecurrentConfig(cell, I, H, L, nonlinearity)
    net = Recurrent(config, rng=rng, dtype=np.float64, impl=impl)
    # Larger weights than the default init so that gradients are far from zero everywhere.
    for v in net.params.values():
        v *= 2.0
    x = rng.integers(0, I, size=(T, B)) if int_input else rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((L, B, H)) * 0.5
    c0 = rng.standard_normal((L, B, H)) * 0.5 if cell == "lstm" else None
    state = State(h0, c0)
    weights = loss_weights(rng, T, B, H, L, cell == "lstm")
    return net, x, state, weights


def analytic(net, x, state, weights):
    out, final, cache = net.forward(x, state)
    r_out, r_h, r_c = weights
    return net.backward(cache, r_out, State(r_h, r_c))


shapes = st.fixed_dictionaries(
    {
        "T": st.integers(1, 4),
        "B": st.integers(1, 3),
        "I": st.integers(1, 4),
        "H": st.integers(1, 4),
        "L": st.integers(1, 3),
        "int_input": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


@pytest.mark.parametrize("impl", ["fused", "loop"])
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@settings(max_examples=6)
@given(shape=shapes)
def test_bptt_matches_finite_differences(cell, nonlinearity, impl, shape):
    net, x, state, weights = make_case(cell, nonlinearity, impl=impl, **shape)

    def f():
        out, final, _ = net.forward(x, state)
        return loss_value(out, final, weights)

    grads = analytic(net, x, state, weights)
    checks = [(name, grads.params[name], value) for name, value in net.params.items()]
    if not shape["int_input"]:
        checks.append(("dx", grads.dx, x))
    checks.append(("dh0", grads.dh0, state.h))
    if cell == "lstm":
        checks.append(("dc0", grads.dc0, state.c))
    for name, analytic_grad, value in checks:
        ok, detail = agrees(analytic_grad, numerical_gradient(f, value))
        assert ok, f"{name}: {detail}"


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@settings(max_examples=4)
@given(shape=shapes)
def test_gradient_reaching_every_hidden_state_matches_finite_differences(cell, nonlinearity, shape):
    net, x, state, weights = make_case(cell, nonlinearity, impl="fused", **shape)
    grads = analytic(net, x, state, weights)
    L, T, B, H = grads.dh.shape
    for k in range(L):
        for t in range(T):
            delta = np.zeros((B, H))
            numeric = numerical_gradient(
                lambda: perturbed_loss(net.config, net.params, x, state, weights, k, t, delta), delta
            )
            ok, detail = agrees(grads.dh[k, t], numeric)
            assert ok, f"dL/dh[layer {k}, step {t}]: {detail}"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_linear_head_and_cross_entropy_gradients_match_finite_differences(cell):
    rng = np.random.default_rng(3)
    T, B, V, H = 5, 2, 6, 4
    net = Recurrent(RecurrentConfig(cell, V, H, 2), rng=rng, dtype=np.float64)
    w, b = rng.standard_normal((V, H)), rng.standard_normal(V)
    x = rng.integers(0, V, (T, B))
    y = rng.integers(0, V, (T, B))

    def f():
        out, _, _ = net.forward(x)
        return softmax_cross_entropy(linear_forward(out, w, b), y).loss

    out, _, cache = net.forward(x)
    res = softmax_cross_entropy(linear_forward(out, w, b), y)
    dout, dw, db = linear_backward(res.dlogits, out, w)
    grads = net.backward(cache, dout)
    assert relative_error(dw, numerical_gradient(f, w)) < TOL
    assert relative_error(db, numerical_gradient(f, b)) < TOL
    for name, value in net.params.items():
        assert relative_error(grads.params[name], numerical_gradient(f, value)) < TOL, name
