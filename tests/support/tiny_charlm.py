"""Test helper: tiny character models for the sampling, evaluation and CLI tests.

``trained_cycle_model()`` is a 1x24 LSTM trained for 150 Adam steps on the repetitive text "abcd\\n"
repeated, so greedy generation has a known answer ("ab" -> "cd\\nabcd...").  It takes about a second
and is cached per process.
"""

from __future__ import annotations

import functools

import numpy as np

from rnnlab.data.vocab import CharVocab
from rnnlab.engine import Adam, clip_grad_norm
from rnnlab.tasks.charlm import CharLM, CharLMConfig

CYCLE = "abcd\n"


def random_model(cell="lstm", hidden=8, layers=2, text="abcdefgh \n", seed=0, dtype=np.float64,
                 nonlinearity="tanh") -> CharLM:
    """An untrained model with random weights (scaled up so its distributions are far from uniform)."""
    model = CharLM(CharLMConfig(cell, hidden, layers, nonlinearity), CharVocab.from_text(text),
                   rng=np.random.default_rng(seed), dtype=dtype)
    for value in model.params.values():
        value *= 3.0
    return model


@functools.lru_cache(maxsize=1)
def _trained_params() -> tuple[CharVocab, dict[str, np.ndarray]]:
    text = CYCLE * 40
    vocab = CharVocab.from_text(text)
    model = CharLM(CharLMConfig("lstm", 24, 1), vocab, rng=np.random.default_rng(0), dtype=np.float64)
    ids = vocab.encode(text)  # (N,)
    rng = np.random.default_rng(1)
    opt = Adam(lr=0.02)
    T, B = 20, 4
    for _ in range(150):
        starts = rng.integers(0, len(ids) - T - 1, size=B)  # (B,)
        x = np.stack([ids[s : s + T] for s in starts], axis=1)  # (T, B)
        y = np.stack([ids[s + 1 : s + T + 1] for s in starts], axis=1)  # (T, B)
        _, grads, _, _ = model.loss_and_grads(x, y)
        clip_grad_norm(grads, 5.0)
        opt.step(model.params, grads)
    return vocab, {k: v.copy() for k, v in model.params.items()}


def trained_cycle_model() -> CharLM:
    """A fresh CharLM (its own arrays) with the cached trained weights."""
    vocab, params = _trained_params()
    return CharLM(CharLMConfig("lstm", 24, 1), vocab, {k: v.copy() for k, v in params.items()})
