"""Skip connections (residual between layers, skip across time): forward/backward proved.

- Every parameter, input, initial-state and dL/dh_t gradient against central finite differences
  (float64, relative error < 1e-6) for every cell, with each switch on alone and both together.
- Both switches off: exactly the numbers of ``Recurrent``.
- The time skip shortens the gradient path: a tanh RNN's ||dL/dh_0|| over 60 steps grows by orders
  of magnitude when h[t] is also fed by h[t-10].
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rnnlab.engine import Recurrent, RecurrentConfig, State, numerical_gradient, relative_error
from rnnlab.engine import loop as loop_mod
from rnnlab.engine import skip as skip_mod
from rnnlab.engine.gradient_flow import hidden_gradient_norms, probe_gradient
from rnnlab.engine.skip import SkipConfig, init_skip_params

TOL = 1e-6
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
SWITCHES = [SkipConfig(residual=True), SkipConfig(time_skip=2), SkipConfig(residual=True, time_skip=3)]


def make_case(cell, nonlinearity, skip, T=6, B=2, I=3, H=3, L=2, seed=0, int_input=False):
    rng = np.random.default_rng(seed)
    config = RecurrentConfig(cell, I, H, L, nonlinearity)
    params = Recurrent(config, rng=rng, dtype=np.float64).params
    params |= init_skip_params(config, skip, dtype=np.float64)
    for v in params.values():
        v += 0.3 * rng.standard_normal(v.shape)  # off the identity, so every entry matters
    x = rng.integers(0, I, size=(T, B)) if int_input else rng.standard_normal((T, B, I))
    state = State(rng.standard_normal((L, B, H)) * 0.5, rng.standard_normal((L, B, H)) * 0.5 if cell == "lstm" else None)
    weights = rng.standard_normal((T, B, H)), rng.standard_normal((L, B, H)), rng.standard_normal((L, B, H))
    return config, params, x, state, weights


def loss_of(out, final, weights):
    w_out, w_h, w_c = weights
    value = float((out * w_out).sum() + (final.h * w_h).sum())
    return value + (float((final.c * w_c).sum()) if final.c is not None else 0.0)


@pytest.mark.parametrize("skip", SWITCHES, ids=lambda s: f"residual={s.residual},K={s.time_skip}")
@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_skip_backward_matches_finite_differences(cell, nonlinearity, skip):
    config, params, x, state, weights = make_case(cell, nonlinearity, skip)

    def f():
        out, final, _ = skip_mod.forward(config, params, x, skip, state)
        return loss_of(out, final, weights)

    out, final, cache = skip_mod.forward(config, params, x, skip, state)
    dstate = State(weights[1], weights[2] if cell == "lstm" else None)
    grads = skip_mod.backward(params, cache, weights[0], dstate)
    assert set(grads.params) == set(params)
    for name, value in params.items():
        err = relative_error(grads.params[name], numerical_gradient(f, value))
        assert err < TOL, f"{name}: relative error {err:.2e}"
    assert relative_error(grads.dx, numerical_gradient(f, x)) < TOL
    assert relative_error(grads.dh0, numerical_gradient(f, state.h)) < TOL
    if cell == "lstm":
        assert relative_error(grads.dc0, numerical_gradient(f, state.c)) < TOL


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_skip_dh_is_the_total_gradient_reaching_each_hidden_state(cell, monkeypatch):
    """dL/dh[t] by finite differences of a perturbation added to h[t] inside the forward."""
    skip = SkipConfig(time_skip=2)
    config, params, x, state, weights = make_case(cell, "tanh", skip, L=1, T=5)
    dstate = State(weights[1], weights[2] if cell == "lstm" else None)
    out, final, cache = skip_mod.forward(config, params, x, skip, state)
    dh = skip_mod.backward(params, cache, weights[0], dstate).dh  # (1, T, B, H)
    module = getattr(loop_mod, f"{cell}_cell")  # skip.py steps the cells through loop.cell_step_forward
    delta = np.zeros_like(state.h[0])  # (B, H), added to the cell's output at step t = h[t]
    for t in range(5):
        calls = []

        def step_forward(*args, t=t, calls=calls):
            result = module.step_forward(*args)
            calls.append(None)
            return (result[0] + delta, *result[1:]) if len(calls) - 1 == t else result

        monkeypatch.setattr(loop_mod, f"{cell}_cell", SimpleNamespace(step_forward=step_forward))

        def f(calls=calls):
            calls.clear()
            o, fin, _ = skip_mod.forward(config, params, x, skip, state)
            return loss_of(o, fin, weights)

        assert relative_error(dh[0, t], numerical_gradient(f, delta)) < TOL, f"step {t}"


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
def test_skip_with_both_switches_off_equals_recurrent(cell, nonlinearity):
    off = SkipConfig()
    config, params, x, state, weights = make_case(cell, nonlinearity, off, L=2)
    net = Recurrent(config, params)
    out_ref, final_ref, cache_ref = net.forward(x, state)
    out, final, cache = skip_mod.forward(config, params, x, off, state)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(final.h, final_ref.h, rtol=1e-12, atol=1e-12)
    g_ref = net.backward(cache_ref, weights[0])
    g = skip_mod.backward(params, cache, weights[0])
    for name in params:
        np.testing.assert_allclose(g.params[name], g_ref.params[name], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.dh, g_ref.dh, rtol=1e-10, atol=1e-12)


def test_integer_input_is_read_as_one_hot():
    skip = SkipConfig(residual=True, time_skip=2)
    config, params, x, state, _ = make_case("gru", "tanh", skip, int_input=True)
    I = config.input_size
    out_int, _, cache = skip_mod.forward(config, params, x, skip, state)
    out_float, _, _ = skip_mod.forward(config, params, np.eye(I)[x], skip, state)
    np.testing.assert_allclose(out_int, out_float)
    assert skip_mod.backward(params, cache, np.ones_like(out_int)).dx is None


def test_time_skip_gives_the_gradient_a_short_path_to_early_steps():
    rng = np.random.default_rng(0)
    config = RecurrentConfig("rnn", 4, 32)
    x = rng.standard_normal((60, 8, 4))
    plain = Recurrent(config, rng=np.random.default_rng(1), dtype=np.float64).params
    skip = SkipConfig(time_skip=10)
    params = plain | init_skip_params(config, skip, scale=0.5, dtype=np.float64)
    norms = {}
    for name, cfg in [("plain", SkipConfig()), ("skip", skip)]:
        out, _, cache = skip_mod.forward(config, params, x, cfg)
        dh = skip_mod.backward(params, cache, probe_gradient(out, "last")).dh
        norms[name] = hidden_gradient_norms(dh)[0]
    assert norms["plain"][0] < 1e-10  # measured ~1e-16
    assert norms["skip"][0] > 1e4 * norms["plain"][0]  # measured ~1e-3: 6 hops of 0.5 instead of 59 steps


def test_bad_skip_settings_and_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="time_skip must be a non-negative integer"):
        SkipConfig(time_skip=-1)
    with pytest.raises(ValueError, match="residual must be True or False"):
        SkipConfig(residual=1)
    config, params, x, _, _ = make_case("rnn", "tanh", SkipConfig(), L=1)
    with pytest.raises(ValueError, match="missing parameters: \\['weight_skip_l0'\\]"):
        skip_mod.forward(config, params, x, SkipConfig(time_skip=2))
    with pytest.raises(ValueError, match="input must have shape"):
        skip_mod.forward(config, params, x[..., :2], SkipConfig())
