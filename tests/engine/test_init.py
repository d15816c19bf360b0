"""Initialization schemes: PyTorch's default bounds, orthogonality, identity, spectral radius,
forget-gate bias, reproducibility from the Generator."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.engine import RecurrentConfig, init_params, spectral_radius_of


def test_pytorch_default_is_uniform_within_one_over_sqrt_hidden():
    config = RecurrentConfig("lstm", 10, 64, 2)
    params = init_params(config, np.random.default_rng(0), "pytorch", np.float64)
    bound = 1 / np.sqrt(64)
    for name, v in params.items():
        assert v.shape == config.param_shapes()[name]
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.9 * bound  # actually spread over the range


def test_orthogonal_recurrent_blocks_are_orthogonal():
    params = init_params(RecurrentConfig("gru", 3, 16), np.random.default_rng(0), "orthogonal", np.float64)
    for j in range(3):
        block = params["weight_hh_l0"][j * 16 : (j + 1) * 16]
        np.testing.assert_allclose(block @ block.T, np.eye(16), atol=1e-12)


def test_identity_init_gives_identity_recurrence_and_zero_bias():
    params = init_params(RecurrentConfig("rnn", 2, 8, nonlinearity="relu"), np.random.default_rng(0), "identity", np.float64)
    np.testing.assert_array_equal(params["weight_hh_l0"], np.eye(8))
    assert not params["bias_ih_l0"].any() and not params["bias_hh_l0"].any()


@pytest.mark.parametrize("scheme", ["pytorch", "xavier", "orthogonal"])
def test_spectral_radius_option_sets_the_largest_eigenvalue(scheme):
    params = init_params(RecurrentConfig("rnn", 2, 20), np.random.default_rng(1), scheme, np.float64, spectral_radius=1.7)
    assert spectral_radius_of(params["weight_hh_l0"]) == pytest.approx(1.7, rel=1e-9)


def test_forget_bias_sets_the_forget_gate_part_only():
    params = init_params(RecurrentConfig("lstm", 2, 4), np.random.default_rng(0), "xavier", np.float64, forget_bias=1.0)
    np.testing.assert_array_equal(params["bias_ih_l0"][4:8], 1.0)
    assert not params["bias_ih_l0"][:4].any() and not params["bias_ih_l0"][8:].any()


def test_same_generator_seed_gives_the_same_parameters_and_unknown_scheme_fails():
    config = RecurrentConfig("gru", 3, 5)
    a = init_params(config, np.random.default_rng(7))
    b = init_params(config, np.random.default_rng(7))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="init must be one of"):
        init_params(config, np.random.default_rng(0), "he")
