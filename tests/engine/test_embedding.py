"""The embedding layer: a row gather whose backward adds up repeated rows, checked by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.engine import (
    Recurrent,
    RecurrentConfig,
    linear_backward,
    linear_forward,
    linear_init,
    numerical_gradient,
    relative_error,
    softmax_cross_entropy,
)
from rnnlab.engine.embedding import embedding_backward, embedding_forward, embedding_init

TOL = 1e-6


def test_forward_equals_one_hot_times_weight():
    rng = np.random.default_rng(0)
    weight = embedding_init(7, 3, rng, np.float64)
    x = rng.integers(0, 7, size=(5, 2))
    one_hot = np.eye(7)[x]  # (T, B, V)
    np.testing.assert_allclose(embedding_forward(x, weight), one_hot @ weight)


def test_repeated_indices_add_their_gradients():
    de = np.ones((3, 1, 2))
    dweight = embedding_backward(de, np.array([[4], [4], [1]]), 6)
    np.testing.assert_array_equal(dweight[4], [2.0, 2.0])
    np.testing.assert_array_equal(dweight[1], [1.0, 1.0])
    assert dweight.sum() == 6.0


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    rng = np.random.default_rng(1)
    weight = embedding_init(5, 4, rng, padding_idx=0)
    assert not weight[0].any()
    dweight = embedding_backward(np.ones((2, 2, 4)), np.array([[0, 1], [0, 2]]), 5, padding_idx=0)
    assert not dweight[0].any() and dweight[1].sum() == 4.0


@pytest.mark.parametrize("bad", [np.array([[5]]), np.array([[-1]]), np.array([[0.5]])])
def test_out_of_range_or_float_indices_are_rejected(bad):
    with pytest.raises(ValueError, match="indices"):
        embedding_forward(bad, np.zeros((5, 2)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_through_rnn_and_loss_matches_finite_differences(cell):
    rng = np.random.default_rng(2)
    V, E, H, T, B = 6, 3, 4, 5, 2
    weight = embedding_init(V, E, rng, np.float64, padding_idx=0)
    net = Recurrent(RecurrentConfig(cell, E, H), rng=rng, dtype=np.float64)
    head_w, head_b = linear_init(H, V, rng, np.float64)
    x = rng.integers(0, V, size=(T, B))
    x[0, 0] = x[3, 1] = x[1, 1]  # a repeated index
    targets = rng.integers(0, V, size=(T, B))

    def loss():
        out, _, _ = net.forward(embedding_forward(x, weight))
        return softmax_cross_entropy(linear_forward(out, head_w, head_b), targets).loss

    e = embedding_forward(x, weight)  # (T, B, E)
    out, _, cache = net.forward(e)
    result = softmax_cross_entropy(linear_forward(out, head_w, head_b), targets)
    dout, _, _ = linear_backward(result.dlogits, out, head_w)
    de = net.backward(cache, dout).dx  # (T, B, E)
    dweight = embedding_backward(de, x, V)
    err = relative_error(dweight, numerical_gradient(loss, weight))
    assert err < TOL, f"embedding weight: relative error {err:.2e}"
