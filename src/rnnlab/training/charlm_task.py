"""The character-level language model as a training task: batches, loss, validation, samples, files.

The generic loop (``loop.py``) asks a task for four things: the gradients of the next batch
(``compute``) and to keep them (``commit``), a validation loss (``evaluate``), a short sample, and the
arrays that make a run resumable.  This module answers for ``CharLM`` on a text.

Training batches are ``data.batches.StreamBatches``: B contiguous streams, windows of T characters,
the final hidden state of a window is the initial state of the next (reset at each epoch start).

Dropout (``config.dropout`` = p > 0) is applied to the output of every recurrent layer in training,
the input of the next layer or of the head (char-rnn's placement), as inverted dropout::

    out_k  = layer_k(in_k)             in_0 = x (one-hot),  in_{k+1} = out_k * m_k / (1 - p)
    m_k    ~ Bernoulli(1 - p)          (T, B, H), fresh per window from the task's generator
    d in_{k+1} flows back as d out_k = d in_{k+1} * m_k / (1 - p)

so each layer runs as its own one-layer ``Recurrent`` sharing the model's arrays (same names, same
memory), and the backward walks the layers in reverse.

Weight drop (``config.weight_drop`` = q > 0; DropConnect on the recurrent weights, as AWD-LSTM): one
mask per window and layer on ``W_hh``, the same at every time step::

    W_hh' = W_hh * M_k / (1 - q)       M_k ~ Bernoulli(1 - q)   (G*H, H)
    dW_hh = dW_hh' * M_k / (1 - q)

With p = q = 0 the model's own fused ``loss_and_grads`` runs.  Proved by ``tests/training/test_charlm_task.py`` (finite differences with
fixed masks, and equality with ``CharLM.loss_and_grads`` at p = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data.batches import BatchPosition, StreamBatches, stream_windows
from ..data.vocab import CharVocab
from ..engine import (
    Recurrent,
    RecurrentConfig,
    State,
    log_softmax,
    softmax,
)
from ..engine.output import softmax_output_loss
from ..tasks.charlm import CharLM, CharLMConfig
from .config import TrainConfig

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Pending:
    """A computed step, not yet kept: where the data will be and the state it will carry."""

    position: BatchPosition
    state: State
    rng_state: dict


def new_model(config: TrainConfig, vocab: CharVocab) -> CharLM:
    options = {} if config.forget_bias is None else {"forget_bias": config.forget_bias}
    return CharLM(CharLMConfig(config.cell, config.hidden_size, config.num_layers, config.nonlinearity), vocab,
                  rng=np.random.default_rng(config.seed), init=config.init, **options)


class CharLMTask:
    unit = "char"

    def __init__(self, model: CharLM, train_ids: np.ndarray, val_ids: np.ndarray, config: TrainConfig):
        self.model = model
        self.config = config
        self.batches = StreamBatches(train_ids, config.batch_size, config.seq_len, seed=config.seed)
        self.val_ids = val_ids if config.eval_max_chars is None else val_ids[: config.eval_max_chars]
        self.position = BatchPosition()
        self.state: State | None = None
        self.rng_state = np.random.default_rng([config.seed, 1]).bit_generator.state
        self.layers = _layer_nets(model) if config.dropout > 0 or config.weight_drop > 0 else None

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.model.params

    @property
    def items_per_step(self) -> int:
        return self.config.batch_size * self.config.seq_len

    @property
    def epoch_progress(self) -> float:
        return self.position.epoch + self.position.window / max(1, self.batches.windows_per_epoch(self.position.epoch))

    # ---- one step ------------------------------------------------------------------------------
    def compute(self) -> tuple[float, dict[str, np.ndarray], Pending]:
        """Loss and gradients on the next window; nothing changes until ``commit``."""
        window = next(self.batches.iterate(self.position))
        state = None if window.reset or self.state is None else self.state
        rng = np.random.Generator(np.random.PCG64(0))
        rng.bit_generator.state = self.rng_state
        if self.layers is None:
            result, grads, final, _ = self.model.loss_and_grads(window.x, window.y, state)
            loss = result.loss
        else:
            masks = dropout_masks(rng, self.config.dropout, window.x.shape, self.model)
            layers, weight_masks = self.layers, None
            if self.config.weight_drop > 0:
                weight_masks = weight_drop_masks(rng, self.config.weight_drop, self.model)
                layers = _layer_nets(self.model, weight_masks)
            loss, grads, final = dropout_loss_and_grads(self.model, layers, window.x, window.y, state, masks,
                                                        weight_masks)
        return loss, grads, Pending(window.position_after, final, rng.bit_generator.state)

    def commit(self, pending: Pending) -> None:
        self.position, self.state, self.rng_state = pending.position, pending.state, pending.rng_state

    # ---- validation and samples ----------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Mean cross-entropy over the validation text (nats and bits per character)."""
        return evaluate_ids(self.model, self.val_ids, streams=self.config.eval_streams, seq_len=self.config.seq_len)

    def sample(self, length: int, seed: int) -> str:
        return sample_text(self.model, length, seed)

    # ---- files ---------------------------------------------------------------------------------
    def save_model(self, path, **meta) -> None:
        self.model.save(path, **meta)

    def resume_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        tensors = {}
        if self.state is not None:
            tensors["h"] = self.state.h
            if self.state.c is not None:
                tensors["c"] = self.state.c
        meta = {"epoch": self.position.epoch, "window": self.position.window, "rng": self.rng_state,
                "vocab": self.model.vocab.chars}
        return tensors, meta

    def load_resume_arrays(self, tensors: dict[str, np.ndarray], meta: dict) -> None:
        self.position = BatchPosition(int(meta["epoch"]), int(meta["window"]))
        self.rng_state = meta["rng"]
        self.state = State(tensors["h"], tensors.get("c")) if "h" in tensors else None


# ---- dropout between layers -------------------------------------------------------------------------
def _layer_nets(model: CharLM, weight_masks: list[np.ndarray] | None = None) -> list[Recurrent]:
    """One single-layer Recurrent per layer, sharing the model's arrays (updates reach both); with
    ``weight_masks``, layer k reads ``W_hh * weight_masks[k]`` instead (a new array)."""
    cfg, V = model.config, len(model.vocab)
    nets = []
    for k in range(cfg.num_layers):
        rcfg = RecurrentConfig(cfg.cell, V if k == 0 else cfg.hidden_size, cfg.hidden_size, 1, cfg.nonlinearity)
        params = {f"{name}_l0": model.params[f"rnn.{name}_l{k}"]
                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        if weight_masks is not None:
            params["weight_hh_l0"] = params["weight_hh_l0"] * weight_masks[k]  # (G*H, H)
        nets.append(Recurrent(rcfg, params))
    return nets


def dropout_masks(rng: np.random.Generator, p: float, shape: tuple[int, int], model: CharLM) -> list[np.ndarray]:
    """One inverted-dropout mask (T, B, H) per layer: 0 or 1/(1-p); all ones when p = 0."""
    T, B = shape
    H, dtype = model.config.hidden_size, model.dtype
    if p == 0:
        return [np.ones((T, B, H), dtype) for _ in range(model.config.num_layers)]
    return [((rng.random((T, B, H)) >= p) / (1.0 - p)).astype(dtype) for _ in range(model.config.num_layers)]


def weight_drop_masks(rng: np.random.Generator, q: float, model: CharLM) -> list[np.ndarray]:
    """One DropConnect mask per layer, the shape of W_hh (G*H, H): 0 or 1/(1-q)."""
    return [((rng.random(model.params[f"rnn.weight_hh_l{k}"].shape) >= q) / (1.0 - q)).astype(model.dtype)
            for k in range(model.config.num_layers)]


def dropout_loss_and_grads(model: CharLM, layers: list[Recurrent], x: np.ndarray, y: np.ndarray,
                           state: State | None, masks: list[np.ndarray],
                           weight_masks: list[np.ndarray] | None = None):
    """Forward and BPTT layer by layer with ``masks`` on every layer's output (and ``layers`` built with
    ``weight_masks`` on W_hh, whose gradient is masked the same way); (loss, grads, final)."""
    L = len(layers)
    layer_in, caches, h_n, c_n = x, [], [], []
    for k, net in enumerate(layers):
        s = None if state is None else State(state.h[k : k + 1], None if state.c is None else state.c[k : k + 1])
        out, final, cache = net.forward(layer_in, s)  # out (T, B, H)
        caches.append(cache)
        h_n.append(final.h[0])
        if final.c is not None:
            c_n.append(final.c[0])
        layer_in = out * masks[k]  # (T, B, H)
    head = softmax_output_loss(layer_in, model.params["head.weight"], model.params["head.bias"], y)
    d_in = head.dh  # (T, B, H)
    grads = {"head.weight": head.dweight, "head.bias": head.dbias}
    for k in reversed(range(L)):
        g = layers[k].backward(caches[k], d_in * masks[k])
        for name, value in g.params.items():
            grads[f"rnn.{name[:-1]}{k}"] = value  # "weight_ih_l0" -> "rnn.weight_ih_l{k}"
        if weight_masks is not None:
            grads[f"rnn.weight_hh_l{k}"] = grads[f"rnn.weight_hh_l{k}"] * weight_masks[k]  # (G*H, H)
        d_in = g.dx
    final = State(np.stack(h_n), np.stack(c_n) if c_n else None)  # (L, B, H)
    return head.loss, grads, final


# ---- evaluation and sampling ------------------------------------------------------------------------
def evaluate_ids(model: CharLM, ids: np.ndarray, streams: int = 32, seq_len: int = 100) -> dict[str, float]:
    """Cross-entropy of every next character of ids, read as ``streams`` contiguous streams from the
    zero state, the state carried across windows.  {"loss": nats/char, "bpc": bits/char, "chars": n}."""
    streams = max(1, min(streams, (len(ids) - 1) // 2))
    state, total, count = None, 0.0, 0
    for x, y in stream_windows(ids, streams, seq_len):
        logits, state, _ = model.forward(x, state)  # (T, B, V)
        logp = log_softmax(logits.astype(np.float64))  # (T, B, V)
        total -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
        count += y.size
    loss = total / count
    return {"loss": loss, "bpc": loss / LN2, "chars": count}


def sample_text(model: CharLM, length: int, seed: int, temperature: float = 0.8) -> str:
    """A short sample: ``rnnlab.tasks.sampling.stream`` when it exists, else a plain local sampler."""
    try:
        from ..tasks import sampling
    except ImportError:
        sampling = None
    if sampling is not None and hasattr(sampling, "stream"):
        return "".join(s.char for s in sampling.stream(model, "", length, temperature=temperature, seed=seed))
    rng = np.random.default_rng(seed)
    vocab = model.vocab
    index = vocab.index.get("\n", 0)
    state, chars = None, []
    for _ in range(length):
        logits, state, _ = model.forward(np.array([[index]]), state)  # (1, 1, V)
        p = softmax(logits[0, 0].astype(np.float64) / temperature)  # (V,)
        index = int(rng.choice(len(p), p=p / p.sum()))
        chars.append(vocab.chars[index])
    return "".join(chars)
