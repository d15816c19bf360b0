"""The output layer and its loss in a training step, over batch chunks in threads like the recurrence.

For hidden states h (T, B, H), a linear head (W (V, H), b (V,)) and targets (T, B)::

    logits = h W^T + b            L = mean over all T*B positions of -log softmax(logits)[target]
    dlogits = (softmax(logits) - onehot(target)) / (T*B)
    dh = dlogits W                dW = sum dlogits^T h          db = sum dlogits

The mathematics of ``linear_forward`` + ``softmax_cross_entropy`` + ``linear_backward`` (the
readable reference), cut into the batch chunks of ``fused.batch_spans``: each chunk's products and
softmax run in its own thread with single-threaded BLAS (no spinning OpenBLAS workers, fused.py
trick 8), and the chunks' dW and db are added.  Inside a chunk the states are copied once into one
block so every product is one BLAS call, and the logits are kept class-major (V, N) so the softmax's
max and sum are passes over V rows instead of reductions along N short rows: together 18-26% faster
than the reference's arrangement at H = 128-256.  The numbers equal the one-piece computation up to
rounding (float64 to 1e-12, ``tests/engine/test_output.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fused import batch_spans, run_in_threads


@dataclass(frozen=True)
class OutputGrads:
    loss: float  # the mean cross-entropy over all T*B positions
    per_step: np.ndarray  # (T, B) the loss of every position
    dh: np.ndarray  # (T, B, H) dL/dh
    dweight: np.ndarray  # (V, H)
    dbias: np.ndarray  # (V,)


def softmax_output_loss(h: np.ndarray, weight: np.ndarray, bias: np.ndarray, targets: np.ndarray,
                        chunks: int | None = None) -> OutputGrads:
    """Loss and gradients of the linear head + softmax cross-entropy; see the module docstring."""
    T, B = h.shape[:2]
    if targets.shape != (T, B):
        raise ValueError(f"targets shape {targets.shape} does not match hidden states {h.shape[:2]}")
    per_step = np.empty((T, B), h.dtype)  # (T, B)
    dh = np.empty_like(h)  # (T, B, H)
    count = T * B  # the mean is over every position of the batch

    def chunk(lo: int, hi: int):
        # The same three steps as linear_forward, softmax_cross_entropy and linear_backward, arranged
        # for speed: the chunk's states copied once into one (N, H) block, N = T*b, so each product is
        # one BLAS call (a (T, b, H) view makes T small ones); the logits kept class-major, (V, N), so
        # the softmax's max and sum over the V classes are element-wise passes over V rows of N
        # (reducing along short rows of V is slow); the softmax done in place.
        b = hi - lo
        h_c = np.ascontiguousarray(h[:, lo:hi]).reshape(T * b, -1)  # (N, H)
        cols = np.arange(T * b)  # (N,)
        k = targets[:, lo:hi].reshape(-1)  # (N,) target classes
        z = weight @ h_c.T  # (V, N) logits, class-major
        z += bias[:, None]
        z -= z.max(axis=0)  # shifted: the largest logit of each position is 0
        picked = z[k, cols]  # (N,) the target's shifted logit
        np.exp(z, out=z)
        total = z.sum(axis=0)  # (N,) sum of exp over the classes
        per_step[:, lo:hi] = (np.log(total) - picked).reshape(T, b)  # -log softmax(logits)[target]
        z *= (1.0 / (total * count)).astype(z.dtype, copy=False)  # softmax / count
        z[k, cols] -= z.dtype.type(1.0 / count)  # dlogits (V, N) = (softmax - onehot) / count
        dh[:, lo:hi] = (z.T @ weight).reshape(T, b, -1)  # dL/dh (T, b, H)
        return z @ h_c, z.sum(axis=1)  # dW (V, H), db (V,)

    parts = run_in_threads(chunk, list(batch_spans(B, chunks)))
    dweight, dbias = parts[0]
    for dw, db in parts[1:]:
        dweight = dweight + dw
        dbias = dbias + db
    return OutputGrads(float(per_step.mean()), per_step, dh, dweight, dbias)
