"""The output layer and its loss in a training step, over batch chunks in threads like the recurrence.

For hidden states h (T, B, H), a linear head (W (V, H), b (V,)) and targets (T, B)::

    logits = h W^T + b            L = mean over all T*B positions of -log softmax(logits)[target]
    dlogits = (softmax(logits) - onehot(target)) / (T*B)
    dh = dlogits W                dW = sum dlogits^T h          db = sum dlogits

Exactly ``linear_forward`` + ``softmax_cross_entropy`` + ``linear_backward``, cut into the batch
chunks of ``fused.batch_spans``: each chunk's products and softmax run in its own thread with
single-threaded BLAS (no spinning OpenBLAS workers, fused.py trick 8), and the chunks' dW and db are
added.  The numbers equal the one-piece computation up to the order of those sums
(``tests/engine/test_output.py``).  With one chunk (small batches, one BLAS thread) it is the
one-piece computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fused import batch_spans, run_in_threads
from .linear import linear_backward, linear_forward
from .losses import softmax_cross_entropy


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

    def chunk(lo: int, hi: int):
        h_c = h[:, lo:hi]  # (T, b, H)
        logits = linear_forward(h_c, weight, bias)  # (T, b, V)
        result = softmax_cross_entropy(logits, targets[:, lo:hi], count=T * B)
        dh_c, dweight, dbias = linear_backward(result.dlogits, h_c, weight)  # (T, b, H), (V, H), (V,)
        per_step[:, lo:hi] = result.per_step
        dh[:, lo:hi] = dh_c
        return dweight, dbias

    parts = run_in_threads(chunk, list(batch_spans(B, chunks)))
    dweight, dbias = parts[0]
    for dw, db in parts[1:]:
        dweight = dweight + dw
        dbias = dbias + db
    return OutputGrads(float(per_step.mean()), per_step, dh, dweight, dbias)
