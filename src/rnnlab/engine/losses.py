"""Losses with their gradients: softmax cross-entropy (via log-sum-exp) and mean squared error.

Cross-entropy for logits y (..., V) and integer targets k (...)::

    log p       = y - logsumexp(y),   logsumexp(y) = m + log(sum exp(y - m)),  m = max(y)
    loss_n      = -log p[k_n]                      per position (per-step losses)
    L           = mean_n loss_n
    dL/dy       = (softmax(y) - onehot(k)) / N

Mean squared error: L = mean((y - target)**2), dL/dy = 2 (y - target) / N.
Proved by ``tests/engine/test_losses.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max(axis=-1, keepdims=True)  # (..., 1)
    shifted = logits - m  # (..., V)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))  # (..., V)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class LossResult:
    loss: float  # the mean over all positions
    per_step: np.ndarray  # (...,) one loss per position
    dlogits: np.ndarray  # (..., V) or the prediction's shape: dL/dy of the mean loss


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray, count: int | None = None) -> LossResult:
    """``count``: the number of positions the mean is over, when these logits are one chunk of a
    larger batch (``output.py``); by default all of these.  ``loss`` is always the mean of these."""
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"targets shape {targets.shape} does not match logits {logits.shape[:-1]}")
    logp = log_softmax(logits)  # (..., V)
    per_step = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # (...)
    n = per_step.size if count is None else count
    dlogits = np.exp(logp)  # softmax (..., V)
    np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1)
    dlogits /= n
    return LossResult(float(per_step.mean()), per_step, dlogits)


def mean_squared_error(prediction: np.ndarray, target: np.ndarray) -> LossResult:
    if prediction.shape != target.shape:
        raise ValueError(f"target shape {target.shape} does not match prediction {prediction.shape}")
    diff = prediction - target
    per_step = diff**2
    return LossResult(float(per_step.mean()), per_step, 2.0 * diff / diff.size)
