"""Initialization schemes for recurrent and linear parameters.

- ``pytorch``: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), as ``nn.RNN/LSTM/GRU.reset_parameters``.
- ``xavier``: weights ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) per gate block, biases 0.
- ``orthogonal``: input weights xavier, each gate block of W_hh an orthogonal matrix, biases 0.
- ``identity``: W_hh = identity per gate block (IRNN, Le et al. 2015), input weights small normal.

Options for every scheme: ``spectral_radius`` rescales each gate block of W_hh to that largest
|eigenvalue|; ``forget_bias`` (LSTM) sets the forget-gate part of ``bias_ih`` (``bias_hh``'s part is 0).
All randomness comes from the ``np.random.Generator`` passed in.
"""

from __future__ import annotations

import math

import numpy as np

INIT_SCHEMES = ("pytorch", "xavier", "orthogonal", "identity")


def uniform_init(shape, bound: float, rng: np.random.Generator, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random n x n orthogonal matrix (QR of a Gaussian, signs fixed so it is Haar-distributed)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spectral_radius_of(matrix: np.ndarray) -> float:
    """The largest |eigenvalue| of a square matrix."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix.astype(np.float64)))))


def init_params(config, rng: np.random.Generator, scheme: str = "pytorch", dtype=np.float32,
                spectral_radius: float | None = None, forget_bias: float | None = None) -> dict[str, np.ndarray]:
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init must be one of {INIT_SCHEMES}, got {scheme!r}")
    H, G = config.hidden_size, len(config.gates)
    bound = 1.0 / math.sqrt(H)
    params: dict[str, np.ndarray] = {}
    for name, shape in config.param_shapes().items():
        if scheme == "pytorch":
            params[name] = uniform_init(shape, bound, rng, np.float64)
        elif name.startswith("bias"):
            params[name] = np.zeros(shape)
        elif name.startswith("weight_ih") or scheme == "xavier":
            fan_in, fan_out = shape[1], H
            if scheme == "identity":
                params[name] = rng.normal(0.0, 0.001, size=shape)
            else:
                params[name] = uniform_init(shape, math.sqrt(6.0 / (fan_in + fan_out)), rng, np.float64)
        elif scheme == "orthogonal":
            params[name] = np.concatenate([orthogonal(H, rng) for _ in range(G)])
        else:  # identity
            params[name] = np.concatenate([np.eye(H) for _ in range(G)])
    for k in range(config.num_layers):
        w = params[f"weight_hh_l{k}"]
        if spectral_radius is not None:
            for j in range(G):
                block = w[j * H : (j + 1) * H]
                rho = spectral_radius_of(block)
                if rho > 0:
                    block *= spectral_radius / rho
        if forget_bias is not None and config.cell == "lstm":
            params[f"bias_ih_l{k}"][H : 2 * H] = forget_bias
            params[f"bias_hh_l{k}"][H : 2 * H] = 0.0
    return {name: value.astype(dtype) for name, value in params.items()}


def linear_init(in_features: int, out_features: int, rng: np.random.Generator, dtype=np.float32):
    """PyTorch's ``nn.Linear`` default: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in))."""
    bound = 1.0 / math.sqrt(in_features)
    weight = uniform_init((out_features, in_features), bound, rng, dtype)  # (O, I)
    bias = uniform_init((out_features,), bound, rng, dtype)  # (O,)
    return weight, bias
