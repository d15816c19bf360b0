"""Central finite differences, the ground truth every hand-written gradient is checked against.

    df/dp_j ~ (f(p + eps e_j) - f(p - eps e_j)) / (2 eps)          (float64, eps ~ 1e-6)

Relative error: |a - n| / max(|a| + |n|, tiny), reported as the maximum over elements after
normalising by the largest magnitude (so tiny entries do not dominate).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f() / d array, perturbing ``array`` in place (and restoring it)."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        f_plus = f()
        flat[j] = old - eps
        f_minus = f()
        flat[j] = old
        gflat[j] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max |a - n| / max(max|a| + max|n|, 1e-12): one number for a whole array."""
    scale = max(float(np.abs(analytic).max(initial=0) + np.abs(numeric).max(initial=0)), 1e-12)
    return float(np.abs(analytic - numeric).max(initial=0) / scale)
