"""A tiny character-level model trained in about a second, for the server and browser tests.

The tests must not depend on the bundled default model (another issue trains it) or on data
outside the repository, so they train this one on a paragraph written here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.data.vocab import CharVocab
from rnnlab.engine import Adam, clip_grad_norm
from rnnlab.tasks.charlm import CharLM, CharLMConfig
from rnnlab.tasks.sampling import one_blas_thread

TEXT = (
    "A recurrent neural network reads a sequence one character at a time. "
    "At every step it updates its hidden state from the new input and the previous state, "
    "and it predicts the next character from that state. The same weights are used at every step, "
    "so the network can read a sentence of any length. Training unrolls the network through time "
    "and sends the error back through every step. The gradient can vanish or explode on the way, "
    "which is why gated cells such as the LSTM and the GRU were invented.\n"
)


def train_tiny_charlm(path: Path, steps: int = 150, cell: str = "lstm", hidden: int = 48, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    vocab = CharVocab.from_text(TEXT)
    model = CharLM(CharLMConfig(cell, hidden, 1), vocab, rng=rng)
    data = vocab.encode(TEXT)  # (N,)
    opt = Adam(lr=0.02)
    T, B = 32, 16
    with one_blas_thread():
        _train(model, data, opt, rng, steps, T, B)
    model.save(path, trained_steps=steps, note="test fixture")
    return path


def _train(model, data, opt, rng, steps, T, B):
    for _ in range(steps):
        starts = rng.integers(0, len(data) - T - 1, size=B)
        window = np.stack([data[s : s + T + 1] for s in starts], axis=1)  # (T+1, B)
        _, grads, _, _ = model.loss_and_grads(window[:-1], window[1:])
        clip_grad_norm(grads, 5.0)
        opt.step(model.params, grads)
