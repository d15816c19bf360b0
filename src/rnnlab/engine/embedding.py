"""An embedding layer, forward and backward, as PyTorch's ``nn.Embedding``: indices pick rows.

    e[t, b] = W[x[t, b]]                         x (T, B) int in [0, V), W (V, E) -> e (T, B, E)
    dW[v]   = sum over all (t, b) with x[t, b] = v of de[t, b]

It equals a one-hot vector times ``W`` (``onehot(x) @ W``), without building the one-hot matrix;
repeated indices add their gradients (``np.add.at``). ``padding_idx`` names a row whose gradient is
always zero, as PyTorch does, so a padding token stays at its initial value (zeros).
Proved by ``tests/engine/test_embedding.py`` (finite differences through an RNN and a loss).
"""

from __future__ import annotations

import numpy as np


def embedding_init(num_embeddings: int, embedding_dim: int, rng: np.random.Generator, dtype=np.float32,
                   padding_idx: int | None = None) -> np.ndarray:
    """PyTorch's default: W ~ N(0, 1), the padding row (if any) zero."""
    if num_embeddings < 1 or embedding_dim < 1:
        raise ValueError(f"an embedding needs V >= 1 and E >= 1, got V={num_embeddings}, E={embedding_dim}")
    weight = rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)  # (V, E)
    if padding_idx is not None:
        weight[padding_idx] = 0.0
    return weight


def _check_indices(indices: np.ndarray, num_embeddings: int) -> None:
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"embedding indices must be integers, got dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= num_embeddings):
        raise ValueError(f"embedding indices must lie in [0, {num_embeddings}), "
                         f"got [{indices.min()}, {indices.max()}]")


def embedding_forward(indices: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """indices (...) int, weight (V, E) -> (..., E)."""
    indices = np.asarray(indices)
    _check_indices(indices, weight.shape[0])
    return weight[indices]  # (..., E)


def embedding_backward(de: np.ndarray, indices: np.ndarray, num_embeddings: int,
                       padding_idx: int | None = None) -> np.ndarray:
    """de (..., E): dL/de -> dW (V, E); rows of indices that occur several times add up."""
    indices = np.asarray(indices)
    E = de.shape[-1]
    dweight = np.zeros((num_embeddings, E), dtype=de.dtype)  # (V, E)
    np.add.at(dweight, indices.reshape(-1), de.reshape(-1, E))
    if padding_idx is not None:
        dweight[padding_idx] = 0.0
    return dweight
