"""Softmax cross-entropy and MSE: values against direct formulas, gradients against finite
differences, and stability for huge logits (log-sum-exp)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.engine import (
    log_softmax,
    mean_squared_error,
    numerical_gradient,
    relative_error,
    softmax,
    softmax_cross_entropy,
)


def test_cross_entropy_equals_minus_log_softmax_of_the_target_averaged():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3, 7))
    targets = rng.integers(0, 7, (4, 3))
    res = softmax_cross_entropy(logits, targets)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    direct = -np.log(p[np.arange(4)[:, None], np.arange(3)[None, :], targets])
    np.testing.assert_allclose(res.per_step, direct, rtol=1e-12)
    assert res.loss == pytest.approx(direct.mean(), rel=1e-12)


def test_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 2, 5))
    targets = rng.integers(0, 5, (3, 2))
    res = softmax_cross_entropy(logits, targets)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, targets).loss, logits)
    assert relative_error(res.dlogits, numeric) < 1e-7


def test_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[[1e4, 0.0, -1e4]]])
    res = softmax_cross_entropy(logits, np.array([[1]]))
    assert np.isfinite(res.loss) and res.loss == pytest.approx(1e4)
    assert np.isfinite(res.dlogits).all()
    assert np.isfinite(log_softmax(logits)).all()
    np.testing.assert_allclose(softmax(logits).sum(-1), 1.0)


def test_mse_value_and_gradient():
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    res = mean_squared_error(pred, target)
    assert res.loss == pytest.approx(((pred - target) ** 2).mean())
    numeric = numerical_gradient(lambda: mean_squared_error(pred, target).loss, pred)
    assert relative_error(res.dlogits, numeric) < 1e-7


def test_mismatched_shapes_are_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="targets shape"):
        softmax_cross_entropy(np.zeros((2, 3, 4)), np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match="target shape"):
        mean_squared_error(np.zeros((2, 3)), np.zeros((3, 2)))
