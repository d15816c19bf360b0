"""Attention read-out over past hidden states (dot-product and additive): forward/backward proved.

- Every parameter gradient and the gradient of every hidden state against central finite
  differences (float64, relative error < 1e-6), several query steps at once.
- The read-out is causal, its weights are a distribution, and the first step gets a gradient in one
  hop however long the sequence is.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.engine import attention, numerical_gradient, relative_error
from rnnlab.engine.attention import attention_param_shapes, init_attention_params

TOL = 1e-6


def make_case(kind, T=6, B=2, H=4, A=3, seed=0):
    rng = np.random.default_rng(seed)
    params = init_attention_params(kind, H, rng, attention_size=A, dtype=np.float64)
    for v in params.values():
        v += 0.5 * rng.standard_normal(v.shape)
    hs = rng.standard_normal((T, B, H))
    return rng, params, hs


@pytest.mark.parametrize("kind", ["dot", "additive"])
@pytest.mark.parametrize("query_steps", [[5], [0, 3, 5], [2, 2]])
def test_attention_backward_matches_finite_differences(kind, query_steps):
    rng, params, hs = make_case(kind)
    weights = rng.standard_normal((len(query_steps),) + hs.shape[1:])  # (Q, B, H)

    def f():
        context, _ = attention.forward(kind, params, hs, query_steps)
        return float((context * weights).sum())

    _, cache = attention.forward(kind, params, hs, query_steps)
    dhs, grads = attention.backward(params, cache, weights)
    assert set(grads) == set(params)
    for name, value in params.items():
        err = relative_error(grads[name], numerical_gradient(f, value))
        assert err < TOL, f"{name}: relative error {err:.2e}"
    assert relative_error(dhs, numerical_gradient(f, hs)) < TOL


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_attention_is_causal_and_its_weights_are_a_distribution(kind):
    _, params, hs = make_case(kind, T=8)
    context, cache = attention.forward(kind, params, hs, [3, 7])
    assert context.shape == (2, 2, 4)
    for alpha, t in zip(cache.weights, [3, 7]):
        assert alpha.shape == (t + 1, 2)
        assert np.all(alpha >= 0) and alpha.sum(axis=0) == pytest.approx([1, 1])
    changed = hs.copy()
    changed[4:] += 10.0  # the future of step 3
    context2, _ = attention.forward(kind, params, changed, [3, 7])
    np.testing.assert_allclose(context2[0], context[0])
    assert not np.allclose(context2[1], context[1])


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_the_first_step_gets_gradient_in_one_hop_however_far_back(kind):
    """A read-out at step T-1 sends alpha[0] * dcontext straight to h[0]: no product over steps."""
    rng = np.random.default_rng(1)
    params = init_attention_params(kind, 8, rng, dtype=np.float64)
    for T in (10, 200):
        hs = 0.1 * rng.standard_normal((T, 1, 8))
        _, cache = attention.forward(kind, params, hs, [T - 1])
        dhs, _ = attention.backward(params, cache, np.ones((1, 1, 8)))
        # with nearly uniform weights alpha[0] ~ 1/T, so ||dL/dh_0|| ~ sqrt(8)/T, not exponentially small
        assert np.linalg.norm(dhs[0]) > 0.3 / T


def test_shapes_and_bad_input_are_clear_errors():
    assert attention_param_shapes("additive", 5, 3) == {"key.weight": (3, 5), "query.weight": (3, 5), "bias": (3,),
                                                        "score.weight": (3,)}
    _, params, hs = make_case("dot")
    with pytest.raises(ValueError, match="attention must be one of"):
        attention_param_shapes("cosine", 4)
    with pytest.raises(ValueError, match="query steps must be"):
        attention.forward("dot", params, hs, [6])
    with pytest.raises(ValueError, match="query steps must be"):
        attention.forward("dot", params, hs, [])
    with pytest.raises(ValueError, match="query.weight: expected \\(5, 5\\)"):
        attention.forward("dot", params, np.zeros((3, 1, 5)), [0])
