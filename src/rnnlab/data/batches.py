"""Batches for truncated BPTT over B contiguous streams, the hidden state carried window to window.

char-rnn's scheme.  The token sequence (after an epoch's offset) is cut into B equal contiguous
streams, one per batch row; window i of an epoch is columns ``[i T, (i+1) T)`` of every stream::

    data      a b c d e f g h i j k l m n o p q r s t u v w x      (N tokens, offset 0)
    stream 0  a b c d e f g h i j k                                 row b holds data[b n : (b+1) n]
    stream 1  l m n o p q r s t u v                                 n = (N - offset - 1) // B
    window 0  x = [[a b c], [l m n]] (T=3, per row)   y = x shifted by one token
    window 1  x = [[d e f], [o p q]]   <- row b continues exactly where window 0's row b stopped

so the final state of window i is the right initial state of window i+1 (row by row).  A new epoch
starts the streams over (reset the state) from a new offset in [0, T), drawn from
``default_rng([seed, epoch])`` so that window boundaries move between epochs while any
(seed, epoch, window) is reproducible without saving a random state: a ``BatchPosition`` is all a
resumed run needs.

Arrays are time-major like the engine: x, y (T, B) int64.  Proved by ``tests/data/test_batches.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BatchPosition:
    epoch: int = 0
    window: int = 0  # index of the next window within the epoch


@dataclass(frozen=True)
class Window:
    epoch: int
    index: int  # window index within the epoch
    x: np.ndarray  # (T, B) int64 inputs
    y: np.ndarray  # (T, B) int64 targets: x shifted by one token
    reset: bool  # True for an epoch's first window: start from the zero state

    @property
    def position_after(self) -> BatchPosition:
        return BatchPosition(self.epoch, self.index + 1)


class StreamBatches:
    """Windows of ``seq_len`` over ``batch_size`` contiguous streams of ``data``."""

    def __init__(self, data: np.ndarray, batch_size: int, seq_len: int, seed: int = 0, shift: bool = True):
        data = np.asarray(data)
        if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
            raise ValueError(f"data must be a 1-d integer array, got {data.dtype} of shape {data.shape}")
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be >= 1, got {batch_size} and {seq_len}")
        need = min_tokens(batch_size, seq_len, shift)
        if len(data) < need:
            raise ValueError(f"{len(data)} tokens is too short for batch {batch_size} x window {seq_len}: "
                             f"need at least {need} (use a smaller --batch or --seq-len, or more text)")
        self.data = data.astype(np.int64, copy=False)
        self.batch_size, self.seq_len, self.seed, self.shift = batch_size, seq_len, seed, shift

    def offset(self, epoch: int) -> int:
        if not self.shift:
            return 0
        return int(np.random.default_rng([self.seed, epoch]).integers(0, self.seq_len))

    def _streams(self, epoch: int) -> np.ndarray:
        B = self.batch_size
        start = self.offset(epoch)
        n = (len(self.data) - start - 1) // B  # tokens per stream (one more is read for the targets)
        return self.data[start : start + B * n + 1], n

    def windows_per_epoch(self, epoch: int = 0) -> int:
        return self._streams(epoch)[1] // self.seq_len

    def window(self, epoch: int, index: int) -> Window:
        flat, n = self._streams(epoch)
        B, T = self.batch_size, self.seq_len
        if not 0 <= index < n // T:
            raise IndexError(f"window {index} out of range for epoch {epoch} ({n // T} windows)")
        rows = np.arange(B)[None, :] * n + index * T + np.arange(T)[:, None]  # (T, B) positions of x
        return Window(epoch, index, flat[rows], flat[rows + 1], index == 0)

    def iterate(self, start: BatchPosition = BatchPosition()) -> Iterator[Window]:
        """Windows forever from ``start``, epoch after epoch."""
        epoch, index = start.epoch, start.window
        while True:
            if index >= self.windows_per_epoch(epoch):
                epoch, index = epoch + 1, 0
                continue
            yield self.window(epoch, index)
            index += 1

    __iter__ = iterate


def min_tokens(batch_size: int, seq_len: int, shift: bool = True) -> int:
    """The fewest tokens that give one full window for every row at any offset."""
    return batch_size * seq_len + (seq_len - 1 if shift else 0) + 1


def stream_windows(data: np.ndarray, streams: int, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For evaluation: ``streams`` contiguous streams covering data (the tail that does not divide
    evenly is dropped), windows of at most seq_len in order, (x (T, B), y (T, B)); carry the state."""
    data = np.asarray(data, dtype=np.int64)
    n = (len(data) - 1) // streams
    if n < 1:
        raise ValueError(f"{len(data)} tokens is too short for {streams} evaluation streams")
    for t in range(0, n, seq_len):
        T = min(seq_len, n - t)
        rows = np.arange(streams)[None, :] * n + t + np.arange(T)[:, None]  # (T, B)
        yield data[rows], data[rows + 1]
