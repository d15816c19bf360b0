"""Sequence classification (e.g. sentiment): an RNN reads a text and classifies it from its states.

    e_t  = E[x_t]                                   (B, E)  word or character embedding (padding row 0)
    h_t  = RNN(e_t, h_{t-1})                        (B, H)
    f    = h_{n-1}            pooling "last"        (B, H)  n = the text's length (right padding ignored)
         | (1/n) sum_t h_t    pooling "mean"
         | max_t h_t          pooling "max"         (per unit)
    p    = softmax(W f + b)                         (B, K)  trained with cross-entropy

Right padding never changes the states before it (the RNN is causal), so a padded batch gives each
text exactly its own numbers. The *per-step confidence* applies the same head to the pooled state
of each prefix, p_t = softmax(W f_{0..t} + b): the opinion as it forms word by word.
Dropout (inverted) on the embeddings and on f during training only.

Metrics: accuracy, per-class and macro F1, the confusion matrix (rows true, columns predicted).
Baseline: bag-of-words logistic regression (scikit-learn, imported lazily) on the same tokens and
split, its C chosen on the validation part.
Proved by ``tests/tasks/test_classify.py`` (finite differences for every parameter, padding
invariance, learning a toy language).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.optional import optional_import
from ..data.text_classification import LabelledTexts
from ..data.words import WordVocab, tokenize
from ..engine import (
    Adam,
    AdamW,
    Recurrent,
    RecurrentConfig,
    check_params,
    clip_grad_norm,
    linear_backward,
    linear_forward,
    linear_init,
    softmax,
    softmax_cross_entropy,
)
from ..engine.embedding import embedding_backward, embedding_forward, embedding_init
from ..io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

FORMAT = "rnnlab.classifier/1"
LEVELS = ("word", "char")
POOLINGS = ("last", "mean", "max")


@dataclass(frozen=True)
class ClassifierConfig:
    level: str = "word"
    cell: str = "gru"
    embed_size: int = 64
    hidden_size: int = 64
    num_layers: int = 1
    pooling: str = "last"
    dropout: float = 0.5
    embed_scale: float = 0.1  # initial embeddings ~ N(0, embed_scale^2)
    lr: float = 3e-3
    batch_size: int = 32
    clip: float = 5.0
    weight_decay: float = 0.0  # AdamW's decoupled decay when > 0
    min_count: int = 2  # words seen fewer times in training are <unk>
    max_vocab: int = 20000
    max_len: int = 100  # tokens read per text (the rest is cut)

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        RecurrentConfig(self.cell, self.embed_size, self.hidden_size, self.num_layers)  # validates the rest


class TextEncoder:
    """Text -> tokens -> ids, at word level (``tokenize``) or character level (every character)."""

    def __init__(self, level: str, vocab: WordVocab):
        self.level, self.vocab = level, vocab

    @classmethod
    def fit(cls, texts: Sequence[str], level: str = "word", min_count: int = 2, max_size: int | None = None):
        probe = cls(level, WordVocab(["<pad>", "<unk>"]))
        return cls(level, WordVocab.from_tokens((probe.tokens(t) for t in texts), min_count, max_size))

    def tokens(self, text: str) -> list[str]:
        return tokenize(text) if self.level == "word" else list(text)

    def encode(self, text: str) -> np.ndarray:
        return self.vocab.encode(self.tokens(text) or ["<unk>"])  # (T,) an empty text reads one <unk>


@dataclass(frozen=True)
class PoolCache:
    lengths: np.ndarray  # (B,)
    argmax: np.ndarray | None  # (B, H) step of each unit's maximum (max pooling)


class SequenceClassifier:
    """Embedding -> RNN -> pooling -> linear head; params keyed like PyTorch (``embed.weight``, ``rnn.*``, ``head.*``)."""

    def __init__(self, config: ClassifierConfig, encoder: TextEncoder, classes: Sequence[str],
                 params: dict[str, np.ndarray] | None = None, *, rng: np.random.Generator | None = None,
                 dtype=np.float32):
        self.config, self.encoder, self.classes = config, encoder, list(classes)
        V, E, H, K = len(encoder.vocab), config.embed_size, config.hidden_size, len(self.classes)
        rcfg = RecurrentConfig(config.cell, E, H, config.num_layers)
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            embed = embedding_init(V, E, rng, np.float64, padding_idx=0) * config.embed_scale  # (V, E)
            body = Recurrent(rcfg, rng=rng, dtype=dtype).params
            weight, bias = linear_init(H, K, rng, dtype)
            params = ({"embed.weight": embed.astype(dtype)} | {f"rnn.{k}": v for k, v in body.items()}
                      | {"head.weight": weight, "head.bias": bias})
        else:
            check_params(rcfg, params, prefix="rnn.")
            want = {"embed.weight": (V, E), "head.weight": (K, H), "head.bias": (K,)}
            for name, shape in want.items():
                if name not in params or params[name].shape != shape:
                    raise ValueError(f"{name} must have shape {shape}, got {params[name].shape if name in params else 'missing'}")
        self.params = params
        self.rnn = Recurrent(rcfg, {k[4:]: v for k, v in params.items() if k.startswith("rnn.")})

    # ---- batches ------------------------------------------------------------------------------------
    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """texts -> x (T, B) ids right-padded with 0, lengths (B,)."""
        seqs = [self.encoder.encode(t)[: self.config.max_len] for t in texts]
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)  # (B,)
        x = np.zeros((int(lengths.max()), len(seqs)), dtype=np.int64)  # (T, B)
        for b, s in enumerate(seqs):
            x[: len(s), b] = s
        return x, lengths

    # ---- numbers ------------------------------------------------------------------------------------
    def _pool(self, out: np.ndarray, lengths: np.ndarray):
        """out (T, B, H) -> f (B, H)."""
        T, B, H = out.shape
        valid = np.arange(T)[:, None] < lengths[None, :]  # (T, B)
        if self.config.pooling == "last":
            return out[lengths - 1, np.arange(B)], PoolCache(lengths, None)  # (B, H)
        if self.config.pooling == "mean":
            return (out * valid[..., None]).sum(axis=0) / lengths[:, None], PoolCache(lengths, None)  # (B, H)
        masked = np.where(valid[..., None], out, -np.inf)  # (T, B, H)
        argmax = masked.argmax(axis=0)  # (B, H)
        return np.take_along_axis(out, argmax[None], axis=0)[0], PoolCache(lengths, argmax)  # (B, H)

    def _pool_backward(self, dfeat: np.ndarray, cache: PoolCache, T: int) -> np.ndarray:
        """dfeat (B, H) -> dout (T, B, H)."""
        B, H = dfeat.shape
        dout = np.zeros((T, B, H), dtype=dfeat.dtype)  # (T, B, H)
        lengths = cache.lengths
        if self.config.pooling == "last":
            dout[lengths - 1, np.arange(B)] = dfeat
        elif self.config.pooling == "mean":
            valid = np.arange(T)[:, None] < lengths[None, :]  # (T, B)
            dout[:] = valid[..., None] * (dfeat / lengths[:, None])[None]
        else:
            np.put_along_axis(dout, cache.argmax[None], dfeat[None], axis=0)
        return dout

    def forward(self, x: np.ndarray, lengths: np.ndarray, rng: np.random.Generator | None = None):
        """x (T, B), lengths (B,) -> logits (B, K), cache. With ``rng``: training mode (dropout on)."""
        p = self.config.dropout if rng is not None else 0.0
        e = embedding_forward(x, self.params["embed.weight"])  # (T, B, E)
        e_mask = f_mask = None
        if p > 0:
            e_mask = (rng.random(e.shape) >= p).astype(e.dtype) / (1 - p)  # (T, B, E)
            e = e * e_mask
        out, _, rnn_cache = self.rnn.forward(e)  # (T, B, H)
        feat, pool_cache = self._pool(out, lengths)  # (B, H)
        if p > 0:
            f_mask = (rng.random(feat.shape) >= p).astype(feat.dtype) / (1 - p)  # (B, H)
            feat = feat * f_mask
        logits = linear_forward(feat, self.params["head.weight"], self.params["head.bias"])  # (B, K)
        return logits, (x, e_mask, rnn_cache, out.shape[0], pool_cache, f_mask, feat)

    def loss_and_grads(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None):
        """Mean cross-entropy of the labels y (B,); gradients of every parameter, named like params."""
        logits, (x, e_mask, rnn_cache, T, pool_cache, f_mask, feat) = self.forward(x, lengths, rng)
        result = softmax_cross_entropy(logits, y)
        dfeat, dW, db = linear_backward(result.dlogits, feat, self.params["head.weight"])  # dfeat (B, H)
        if f_mask is not None:
            dfeat = dfeat * f_mask
        dout = self._pool_backward(dfeat, pool_cache, T)  # (T, B, H)
        g = self.rnn.backward(rnn_cache, dout)
        de = g.dx if e_mask is None else g.dx * e_mask  # (T, B, E)
        dembed = embedding_backward(de, x, self.params["embed.weight"].shape[0], padding_idx=0)  # (V, E)
        grads = ({"embed.weight": dembed} | {f"rnn.{k}": v for k, v in g.params.items()}
                 | {"head.weight": dW, "head.bias": db})
        return result.loss, grads

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(N, K) class probabilities; texts are batched by length so padding stays small."""
        order = np.argsort([len(self.encoder.tokens(t)) for t in texts], kind="stable")
        probs = np.zeros((len(texts), len(self.classes)))  # (N, K)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            logits, _ = self.forward(*self.batch([texts[i] for i in idx]))
            probs[idx] = softmax(logits.astype(np.float64))
        return probs

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba(texts).argmax(axis=1)

    def step_probabilities(self, text: str) -> tuple[list[str], np.ndarray]:
        """The tokens read and p_t (T, K): the class probabilities after each prefix of the text."""
        tokens = self.encoder.tokens(text)[: self.config.max_len] or ["<unk>"]
        x = self.encoder.vocab.encode(tokens)[:, None]  # (T, 1)
        out, _, _ = self.rnn.forward(embedding_forward(x, self.params["embed.weight"]))  # (T, 1, H)
        h = out[:, 0].astype(np.float64)  # (T, H)
        if self.config.pooling == "last":
            feat = h
        elif self.config.pooling == "mean":
            feat = np.cumsum(h, axis=0) / np.arange(1, len(h) + 1)[:, None]  # running mean (T, H)
        else:
            feat = np.maximum.accumulate(h, axis=0)  # running max (T, H)
        return tokens, softmax(linear_forward(feat, self.params["head.weight"], self.params["head.bias"]))

    # ---- files ---------------------------------------------------------------------------------------
    def save(self, path, half: bool = False, **extra) -> None:
        """``half``: store the weights as float16 (half the file; ``load`` reads them back as float32)."""
        meta = {"format": FORMAT, "config": asdict(self.config), "vocab": self.encoder.vocab.words,
                "classes": self.classes} | extra
        tensors = {k: v.astype(np.float16) for k, v in self.params.items()} if half else self.params
        save_checkpoint(path, tensors, meta)

    @classmethod
    def load(cls, path) -> SequenceClassifier:
        tensors, meta = load_checkpoint(path)
        if not meta or meta.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a classifier checkpoint (format {meta and meta.get('format')!r})")
        try:
            config = ClassifierConfig(**meta["config"])
            encoder = TextEncoder(config.level, WordVocab(meta["vocab"]))
            params = {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in tensors.items()}
            model = cls(config, encoder, meta["classes"], params)
            model.meta = meta
            return model
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: the tensors do not match the metadata ({e})") from None


# ---- metrics -------------------------------------------------------------------------------------------

def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict:
    """accuracy, per-class precision/recall/F1, macro F1 and the confusion matrix (rows true, cols predicted)."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)  # (K, K)
    np.add.at(confusion, (y_true, y_pred), 1)
    tp = np.diag(confusion).astype(float)  # (K,)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)  # (K,)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=precision + recall > 0)
    return {"accuracy": float(tp.sum() / max(1, confusion.sum())), "macro_f1": float(f1.mean()),
            "f1": f1.tolist(), "precision": precision.tolist(), "recall": recall.tolist(),
            "confusion": confusion.tolist()}


# ---- training ------------------------------------------------------------------------------------------

@dataclass
class ClassifierTrainResult:
    model: SequenceClassifier
    epochs: float
    steps: int
    seconds: float
    best_val_accuracy: float
    best_step: int
    history: list[dict] = field(default_factory=list)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A shuffled epoch of index batches whose texts have similar lengths (little padding)."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def accuracy(model: SequenceClassifier, data: LabelledTexts) -> float:
    return float((model.predict(data.texts) == data.labels).mean())


def train_classifier(train: LabelledTexts, val: LabelledTexts, config: ClassifierConfig, *, seconds: float = 120.0,
                     max_epochs: float = 10.0, evals_per_epoch: int = 2, patience: int = 6, seed: int = 0,
                     on_eval: Callable[[dict], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> ClassifierTrainResult:
    """Adam over length-bucketed batches; keeps the parameters with the best validation accuracy."""
    rng = np.random.default_rng(seed)
    encoder = TextEncoder.fit(train.texts, config.level, config.min_count, config.max_vocab)
    model = SequenceClassifier(config, encoder, train.classes, rng=rng)
    optimizer = AdamW(lr=config.lr, weight_decay=config.weight_decay) if config.weight_decay else Adam(lr=config.lr)
    encoded = [encoder.encode(t)[: config.max_len] for t in train.texts]
    lengths = np.array([len(s) for s in encoded])
    steps_per_epoch = -(-len(encoded) // config.batch_size)
    eval_every = max(1, steps_per_epoch // evals_per_epoch)
    max_steps = max(1, int(max_epochs * steps_per_epoch))
    best = (-1.0, 0, copy.deepcopy(model.params))
    history: list[dict] = []
    start, step, bad, done, losses = time.perf_counter(), 0, 0, False, []
    while not done:
        for idx in length_batches(lengths, config.batch_size, rng):
            step += 1
            T = int(lengths[idx].max())
            x = np.zeros((T, len(idx)), dtype=np.int64)  # (T, B)
            for b, i in enumerate(idx):
                x[: lengths[i], b] = encoded[i]
            loss, grads = model.loss_and_grads(x, lengths[idx], train.labels[idx], rng)
            losses.append(loss)
            clip_grad_norm(grads, config.clip)
            optimizer.step(model.params, grads)
            elapsed = time.perf_counter() - start
            done = step >= max_steps or elapsed > seconds or (should_stop is not None and should_stop())
            if step % eval_every == 0 or done:
                val_acc = accuracy(model, val)
                record = {"step": step, "epoch": step / steps_per_epoch, "loss": float(np.mean(losses)),
                          "val_accuracy": val_acc, "seconds": elapsed}
                losses = []
                history.append(record)
                if on_eval:
                    on_eval(record)
                if val_acc > best[0]:
                    best, bad = (val_acc, step, copy.deepcopy(model.params)), 0
                else:
                    bad += 1
                    done = done or bad >= patience
            if done:
                break
    for name, value in best[2].items():
        model.params[name][...] = value
    return ClassifierTrainResult(model, step / steps_per_epoch, step, time.perf_counter() - start, best[0], best[1],
                                 history)


# ---- the bag-of-words baseline -------------------------------------------------------------------------

def bag_of_words_baseline(train: LabelledTexts, val: LabelledTexts, test: LabelledTexts, level: str = "word",
                          grid: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0)) -> dict:
    """Logistic regression on binary bag-of-words counts of the same tokens; C picked on validation.

    Returns {"C", "val_accuracy", "predictions" (test,), "vocabulary_size"}.
    """
    text_mod = optional_import("sklearn.feature_extraction.text", "the bag-of-words baseline")
    linear_mod = optional_import("sklearn.linear_model", "the bag-of-words baseline")
    probe = TextEncoder(level, WordVocab(["<pad>", "<unk>"]))
    vectorizer = text_mod.CountVectorizer(tokenizer=probe.tokens, lowercase=False, token_pattern=None, binary=True)
    X_train = vectorizer.fit_transform(train.texts)
    X_val, X_test = vectorizer.transform(val.texts), vectorizer.transform(test.texts)
    best = None
    for C in grid:
        clf = linear_mod.LogisticRegression(C=C, max_iter=2000).fit(X_train, train.labels)
        acc = float(clf.score(X_val, val.labels))
        if best is None or acc > best[0]:
            best = (acc, C, clf)
    return {"C": best[1], "val_accuracy": best[0], "predictions": best[2].predict(X_test),
            "vocabulary_size": len(vectorizer.vocabulary_)}
