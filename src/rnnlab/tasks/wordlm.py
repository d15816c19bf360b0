"""The word-level language model: next-word prediction and completion of a prompt.

(``level="char"`` runs the same model over characters, with an embedding instead of a one-hot
input: the web page trains either on the user's text.)

    x_t = E[w_t]                          (B, E)  a learned embedding instead of a one-hot vector
    h_t = RNN(x_t, h_{t-1})               (B, H)
    p(w_{t+1} | w_0..w_t) = softmax(W h_t + b)      over the word vocabulary (V,)

Words come from ``rnnlab.data.words.tokenize`` (lower-cased words, punctuation and line breaks as
tokens); words seen fewer than ``min_count`` times in the training text become ``<unk>``, which
the model predicts like any other word (so perplexities include it; the unknown rate is reported).
Trained like the character model (truncated BPTT over contiguous streams, state carried window to
window, ``rnnlab.data.batches``) on the same corpora (``rnnlab.data.corpora.load_corpus``), last
10% as validation. Baselines on the same tokens: unigram and interpolated bigram models
(add-one smoothed, the interpolation weight picked on the validation part).
Proved by ``tests/tasks/test_wordlm.py``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.batches import StreamBatches, stream_windows
from ..data.words import UNK, WordVocab, detokenize, tokenize
from ..engine import (
    Adam,
    Recurrent,
    RecurrentConfig,
    State,
    check_params,
    clip_grad_norm,
    linear_backward,
    linear_forward,
    linear_init,
    log_softmax,
    softmax,
    softmax_cross_entropy,
)
from ..engine.embedding import embedding_backward, embedding_forward, embedding_init
from ..io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

FORMAT = "rnnlab.wordlm/1"


@dataclass(frozen=True)
class WordLMConfig:
    level: str = "word"  # "word" (tokenize) or "char" (every character is a token)
    cell: str = "lstm"
    embed_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    min_count: int = 3
    max_vocab: int = 8000

    def __post_init__(self):
        if self.level not in ("word", "char"):
            raise ValueError(f"level must be 'word' or 'char', got {self.level!r}")

    def recurrent(self) -> RecurrentConfig:
        return RecurrentConfig(self.cell, self.embed_size, self.hidden_size, self.num_layers)

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, keep_newlines=True) if self.level == "word" else list(text)

    def join(self, tokens) -> str:
        return detokenize(tokens) if self.level == "word" else "".join(tokens)


class WordLM:
    """Embedding -> stacked RNN -> linear head over words (``embed.weight``, ``rnn.*``, ``head.*``)."""

    def __init__(self, config: WordLMConfig, vocab: WordVocab, params: dict[str, np.ndarray] | None = None,
                 *, rng: np.random.Generator | None = None, dtype=np.float32):
        self.config, self.vocab = config, vocab
        V, E, H = len(vocab), config.embed_size, config.hidden_size
        rcfg = config.recurrent()
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            embed = (embedding_init(V, E, rng, np.float64, padding_idx=0) * 0.1).astype(dtype)  # (V, E)
            body = Recurrent(rcfg, rng=rng, dtype=dtype).params
            weight, bias = linear_init(H, V, rng, dtype)
            params = {"embed.weight": embed} | {f"rnn.{k}": v for k, v in body.items()} | {"head.weight": weight, "head.bias": bias}
        else:
            check_params(rcfg, params, prefix="rnn.")
            for name, shape in {"embed.weight": (V, E), "head.weight": (V, H), "head.bias": (V,)}.items():
                if name not in params or params[name].shape != shape:
                    raise ValueError(f"{name} must have shape {shape}, got {params[name].shape if name in params else 'missing'}")
        self.params = params
        self.rnn = Recurrent(rcfg, {k[4:]: v for k, v in params.items() if k.startswith("rnn.")})

    @property
    def dtype(self):
        return self.params["head.weight"].dtype

    def forward(self, x: np.ndarray, state: State | None = None):
        """x (T, B) word ids -> (logits (T, B, V), final State, caches)."""
        e = embedding_forward(x, self.params["embed.weight"])  # (T, B, E)
        out, final, cache = self.rnn.forward(e, state)  # (T, B, H)
        logits = linear_forward(out, self.params["head.weight"], self.params["head.bias"])  # (T, B, V)
        return logits, final, (x, cache, out)

    def loss_and_grads(self, x: np.ndarray, targets: np.ndarray, state: State | None = None):
        """Mean cross-entropy of the next words; (loss, grads named like params, final State)."""
        logits, final, (x, cache, out) = self.forward(x, state)
        result = softmax_cross_entropy(logits, targets)
        dout, dW, db = linear_backward(result.dlogits, out, self.params["head.weight"])  # (T, B, H)
        g = self.rnn.backward(cache, dout)
        dembed = embedding_backward(g.dx, x, len(self.vocab), padding_idx=0)  # (V, E)
        grads = {"embed.weight": dembed} | {f"rnn.{k}": v for k, v in g.params.items()} | {"head.weight": dW, "head.bias": db}
        return result.loss, grads, final

    # ---- prediction -----------------------------------------------------------------------------------
    def encode(self, text: str) -> np.ndarray:
        return self.vocab.encode(self.config.tokens(text))

    def _read(self, ids: np.ndarray):
        """State and next-word logits (V,) after reading ids (T,) from the zero state."""
        if len(ids) == 0:
            ids = self.vocab.encode(["\n"]) if "\n" in self.vocab else np.array([self.vocab.unk_id])
        logits, state, _ = self.forward(ids[:, None])  # (T, 1, V)
        return state, logits[-1, 0].astype(np.float64)

    def next_words(self, prompt: str, k: int = 10, temperature: float = 1.0) -> list[tuple[str, float]]:
        """The k most likely next words after the prompt, with their probabilities."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        _, logits = self._read(self.encode(prompt))
        p = softmax(logits / temperature)  # (V,)
        p[0] = 0.0  # <pad> is never a word
        top = np.argsort(-p, kind="stable")[:k]
        return [(self.vocab.words[i], float(p[i])) for i in top]

    def complete(self, prompt: str, words: int = 20, temperature: float = 0.8, seed: int = 0,
                 greedy: bool = False, allow_unknown: bool = False) -> list[str]:
        """Continue the prompt by ``words`` tokens sampled (or greedy) one at a time, state carried."""
        if not greedy and temperature <= 0:
            raise ValueError(f"temperature must be > 0 (or use greedy), got {temperature}")
        rng = np.random.default_rng(seed)
        state, logits = self._read(self.encode(prompt))
        out: list[str] = []
        for _ in range(words):
            scores = logits.copy()
            scores[0] = -np.inf
            if not allow_unknown:
                scores[self.vocab.unk_id] = -np.inf
            if greedy:
                i = int(scores.argmax())
            else:
                p = softmax(scores / temperature)
                i = int(rng.choice(len(p), p=p))
            out.append(self.vocab.words[i])
            step_logits, state, _ = self.forward(np.array([[i]]), state)  # (1, 1, V)
            logits = step_logits[0, 0].astype(np.float64)
        return out

    # ---- files ---------------------------------------------------------------------------------------
    def save(self, path, **extra) -> None:
        save_checkpoint(path, self.params, {"format": FORMAT, "config": asdict(self.config), "vocab": self.vocab.words} | extra)

    @classmethod
    def load(cls, path) -> WordLM:
        tensors, meta = load_checkpoint(path)
        if not meta or meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a word-LM checkpoint")
        try:
            return cls(WordLMConfig(**meta["config"]), WordVocab(meta["vocab"]), dict(tensors))
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: the tensors do not match the metadata ({e})") from None


# ---- data, evaluation, training --------------------------------------------------------------------------

@dataclass(frozen=True)
class WordData:
    vocab: WordVocab
    train: np.ndarray  # (N_train,) ids
    val: np.ndarray  # (N_val,) ids
    unknown_rate: float  # share of validation tokens that are <unk>

    @classmethod
    def from_text(cls, text: str, config: WordLMConfig, val_fraction: float = 0.1) -> WordData:
        cut = len(text) - int(round(len(text) * val_fraction))
        train_tokens = config.tokens(text[:cut])
        val_tokens = config.tokens(text[cut:])
        if len(train_tokens) < 100 or len(val_tokens) < 10:
            raise ValueError(f"{len(train_tokens)} training and {len(val_tokens)} validation words are too few")
        vocab = WordVocab.from_tokens([train_tokens], config.min_count, config.max_vocab)
        return cls(vocab, vocab.encode(train_tokens), vocab.encode(val_tokens), vocab.unknown_rate([val_tokens]))


def evaluate(model: WordLM, ids: np.ndarray, streams: int = 8, seq_len: int = 64) -> float:
    """Mean cross-entropy (nats per word) of predicting each token from those before it, state carried."""
    total, count, state = 0.0, 0, None
    streams = max(1, min(streams, (len(ids) - 1) // 2))
    for x, y in stream_windows(ids, streams, seq_len):
        logits, state, _ = model.forward(x, state)  # (T, B, V)
        logp = log_softmax(logits.astype(np.float64))  # (T, B, V)
        total -= float(np.take_along_axis(logp, y[..., None], axis=-1).sum())
        count += y.size
    return total / count


def ngram_baselines(data: WordData) -> dict[str, float]:
    """Validation nats per word of add-one unigram and interpolated bigram models (weight picked on validation)."""
    V = len(data.vocab)
    uni = np.bincount(data.train, minlength=V) + 1.0  # (V,)
    p_uni = uni / uni.sum()
    pairs: dict[tuple[int, int], int] = {}
    for a, b in zip(data.train[:-1].tolist(), data.train[1:].tolist()):
        pairs[(a, b)] = pairs.get((a, b), 0) + 1
    context = np.bincount(data.train[:-1], minlength=V).astype(float)  # (V,)
    prev, nxt = data.val[:-1], data.val[1:]
    p_big = np.array([pairs.get((a, b), 0) for a, b in zip(prev.tolist(), nxt.tolist())]) / np.maximum(context[prev], 1)
    results = {"unigram (add-one)": float(-np.log(p_uni[data.val]).mean())}
    best = min((float(-np.log(lam * p_big + (1 - lam) * p_uni[nxt]).mean()), lam) for lam in np.linspace(0.1, 0.9, 9))
    results[f"bigram (interpolated, lambda={best[1]:.1f})"] = best[0]
    return results


@dataclass
class WordLMTrainResult:
    model: WordLM
    steps: int
    seconds: float
    best_val: float  # nats per word
    history: list[dict] = field(default_factory=list)
    best_step: int = 0  # the step whose parameters were kept (lowest validation loss)
    last_val: float = math.nan  # the validation loss at the last evaluation (above best_val: overfitting)


def train_wordlm(data: WordData, config: WordLMConfig, *, batch_size: int = 32, seq_len: int = 32, lr: float = 3e-3,
                 clip: float = 5.0, seconds: float = 120.0, max_steps: int = 2000, eval_every: int = 200,
                 seed: int = 0, on_eval: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, sample_prompt: str | None = None,
                 sample_length: int = 0) -> WordLMTrainResult:
    """Adam over contiguous streams (state carried); keeps the parameters with the best validation loss.

    With ``sample_length`` > 0 every evaluation record also holds ``sample``: a continuation of
    ``sample_prompt`` sampled at temperature 0.8 with the run's seed (samples improving as it trains).
    """
    rng = np.random.default_rng(seed)
    model = WordLM(config, data.vocab, rng=rng)
    optimizer = Adam(lr=lr)
    batches = StreamBatches(data.train, batch_size, seq_len, seed=seed)
    best = (math.inf, copy.deepcopy(model.params), 0)
    history: list[dict] = []
    start, step, state, losses = time.perf_counter(), 0, None, []
    for window in batches:
        step += 1
        if window.reset:
            state = None
        loss, grads, state = model.loss_and_grads(window.x, window.y, state)
        losses.append(loss)
        clip_grad_norm(grads, clip)
        optimizer.step(model.params, grads)
        elapsed = time.perf_counter() - start
        done = step >= max_steps or elapsed > seconds or (should_stop is not None and should_stop())
        if step % eval_every == 0 or done:
            val = evaluate(model, data.val)
            record = {"step": step, "loss": float(np.mean(losses)), "val": val, "perplexity": math.exp(val),
                      "seconds": elapsed}
            losses = []
            if sample_length > 0:
                prompt = sample_prompt or ""
                record["sample"] = config.join(model.complete(prompt, sample_length, temperature=0.8, seed=seed))
            history.append(record)
            if on_eval:
                on_eval(record)
            if val < best[0]:
                best = (val, copy.deepcopy(model.params), step)
        if done:
            break
    for name, value in best[1].items():
        model.params[name][...] = value
    return WordLMTrainResult(model, step, time.perf_counter() - start, best[0], history, best_step=best[2],
                             last_val=history[-1]["val"] if history else math.nan)


def completion_text(prompt: str, words: list[str]) -> str:
    return prompt + ("" if prompt.endswith(("\n", " ")) or not words or words[0] in ".,;:!?'\n" else " ") + detokenize(words)


__all__ = ["UNK", "WordData", "WordLM", "WordLMConfig", "completion_text", "evaluate", "ngram_baselines", "train_wordlm"]
