"""The Recurrent network as a user meets it: clear errors for bad input, truncated BPTT with state
carried across windows, overfitting one batch, and a small golden trace."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.engine import (
    Adam,
    Recurrent,
    RecurrentConfig,
    State,
    linear_backward,
    linear_forward,
    linear_init,
    softmax_cross_entropy,
)


def test_wrong_shapes_and_values_get_clear_errors():
    net = Recurrent(RecurrentConfig("lstm", 3, 4, 2))
    with pytest.raises(ValueError, match=r"input must have shape \(T, B, 3\)"):
        net.forward(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="at least one step"):
        net.forward(np.zeros((0, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        net.forward(np.array([[0, 3]]))
    with pytest.raises(ValueError, match=r"state.h must have shape \(2, 2, 4\)"):
        net.forward(np.zeros((5, 2, 3), np.float32), State(np.zeros((1, 2, 4)), np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match="cell must be one of"):
        RecurrentConfig("transformer", 1, 1)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        RecurrentConfig("rnn", 1, 0)
    with pytest.raises(ValueError, match="weight_hh_l0 has shape"):
        Recurrent(RecurrentConfig("rnn", 2, 3), {**net.params})


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_state_carried_across_windows_continues_the_sequence_exactly(cell):
    rng = np.random.default_rng(0)
    net = Recurrent(RecurrentConfig(cell, 4, 5, 2), rng=rng, dtype=np.float64)
    x = rng.standard_normal((10, 3, 4))
    whole, final, _ = net.forward(x)
    first, state, _ = net.forward(x[:6])
    second, final2, _ = net.forward(x[6:], state)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)
    np.testing.assert_allclose(final2.h, final.h, rtol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_overfits_one_batch(cell):
    rng = np.random.default_rng(0)
    V, H, T, B = 5, 32, 12, 4
    net = Recurrent(RecurrentConfig(cell, V, H), rng=rng, dtype=np.float64)
    w, b = linear_init(H, V, rng, np.float64)
    params = {**net.params, "head.weight": w, "head.bias": b}
    x = rng.integers(0, V, (T, B))
    y = rng.integers(0, V, (T, B))
    opt = Adam(lr=0.02)
    losses = []
    for _ in range(300):
        out, _, cache = net.forward(x)
        res = softmax_cross_entropy(linear_forward(out, w, b), y)
        dout, dw, db = linear_backward(res.dlogits, out, w)
        g = net.backward(cache, dout)
        opt.step(params, {**g.params, "head.weight": dw, "head.bias": db})
        losses.append(res.loss)
    assert losses[0] > 1.3  # about log(5) at the start
    assert losses[-1] < 0.1, f"{cell} did not memorise the batch: {losses[-1]:.3f}"


def test_golden_trace_of_a_tiny_lstm():
    """Two steps of a 1-unit LSTM with hand-chosen weights, computed by hand:

    z = x*w_ih + h*w_hh + b  for gates (i, f, g, o), with w_ih = (1, 2, 3, 4) * 0.1, w_hh = 0.5,
    biases 0; x = (1, -1); h0 = c0 = 0.
    """
    config = RecurrentConfig("lstm", 1, 1)
    params = {
        "weight_ih_l0": np.array([[0.1], [0.2], [0.3], [0.4]]),
        "weight_hh_l0": np.full((4, 1), 0.5),
        "bias_ih_l0": np.zeros(4),
        "bias_hh_l0": np.zeros(4),
    }
    net = Recurrent(config, params)
    _, final, cache = net.forward(np.array([[[1.0]], [[-1.0]]]), record=True)
    sig = lambda v: 1 / (1 + np.exp(-v))
    # step 0
    i0, f0, g0, o0 = sig(0.1), sig(0.2), np.tanh(0.3), sig(0.4)
    c0 = i0 * g0
    h0 = o0 * np.tanh(c0)
    # step 1
    i1, f1, g1, o1 = sig(-0.1 + 0.5 * h0), sig(-0.2 + 0.5 * h0), np.tanh(-0.3 + 0.5 * h0), sig(-0.4 + 0.5 * h0)
    c1 = f1 * c0 + i1 * g1
    h1 = o1 * np.tanh(c1)
    layer = cache.trace.layers[0]
    np.testing.assert_allclose(layer.h[:, 0, 0], [h0, h1], rtol=1e-14)
    np.testing.assert_allclose(layer.c[:, 0, 0], [c0, c1], rtol=1e-14)
    np.testing.assert_allclose(layer.gates["f"][:, 0, 0], [f0, f1], rtol=1e-14)
    np.testing.assert_allclose(layer.gates["g"][:, 0, 0], [g0, g1], rtol=1e-14)
    np.testing.assert_allclose(final.h[0, 0, 0], h1, rtol=1e-14)
    d = cache.trace.to_dict()
    assert d["cell"] == "lstm" and d["num_steps"] == 2 and set(d["layers"][0]["gates"]) == {"i", "f", "g", "o"}
