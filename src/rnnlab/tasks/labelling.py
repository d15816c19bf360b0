"""Sequence labelling: one tag per step. The task here is word segmentation of real text.

The spaces are taken out of a text and the network must put them back: for each character c_t of
the text without whitespace, the tag is 1 when a word boundary (whitespace) came before it::

    "A slow start"  ->  chars  A s l o w s t a r t
                        tags   0 1 0 0 0 1 0 0 0 0

    e_t = E[c_t],  h_t = RNN(e_t, h_{t-1}),  p_t = softmax(W h_t + b)    one tag per step

The network reads left to right, so it decides about the boundary before c_t having seen c_t
and everything before it, never what follows. Baselines with the same view: the majority tag,
and lookup tables of the most frequent tag after each character bigram (c_{t-1}, c_t) and
trigram (c_{t-2}, c_{t-1}, c_t) in the training part (backing off to shorter contexts).
Metrics: per-step accuracy and the F1 of the boundary tag.

A trained tagger saves as safetensors with its configuration and character vocabulary in the
metadata (``save_tagger``, ``load_tagger``); ``segment(tagger, text)`` takes the spaces out of any
text, puts them back with the network and scores it against the spaces that were there (the web
page's sequence-labelling panel, with the bundled ``models/segmenter.safetensors``).
Proved by ``tests/tasks/test_labelling.py``.
"""

from __future__ import annotations

import copy
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.words import WordVocab
from ..engine import (
    Adam,
    Recurrent,
    RecurrentConfig,
    State,
    clip_grad_norm,
    linear_backward,
    linear_forward,
    linear_init,
    softmax,
    softmax_cross_entropy,
)
from ..engine.embedding import embedding_backward, embedding_forward, embedding_init
from ..io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

TAGS = ("inside", "boundary")
FORMAT = "rnnlab.tagger/1"
SEGMENT_MAX_CHARS = 2000  # segment(): longer texts are refused (the server's limit too)


def boundary_tags(text: str) -> tuple[str, np.ndarray]:
    """The text without whitespace, and tags (N,): 1 where whitespace preceded the character."""
    chars, tags, after_space = [], [], False
    for ch in text:
        if ch.isspace():
            after_space = bool(chars)
            continue
        chars.append(ch)
        tags.append(1 if after_space else 0)
        after_space = False
    return "".join(chars), np.array(tags, dtype=np.int64)


def insert_boundaries(chars: str, tags: Sequence[int]) -> str:
    """The inverse: a space before every character tagged 1."""
    return "".join((" " if t == 1 and i > 0 else "") + c for i, (c, t) in enumerate(zip(chars, tags)))


@dataclass(frozen=True)
class TaggingData:
    """A stream of characters and their tags, cut in time order into train / validation / test."""

    vocab: WordVocab
    train: tuple[np.ndarray, np.ndarray]  # (ids (N,), tags (N,))
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    test_chars: str

    @classmethod
    def from_texts(cls, texts: Sequence[str], val_fraction: float = 0.1, test_fraction: float = 0.1) -> TaggingData:
        chars, tags = boundary_tags(" ".join(texts))
        n = len(chars)
        n_test, n_val = int(n * test_fraction), int(n * val_fraction)
        if n - n_test - n_val < 100 or n_test < 10:
            raise ValueError(f"{n} characters are too few for a labelling task (need a few hundred)")
        cut1, cut2 = n - n_test - n_val, n - n_test
        vocab = WordVocab.from_tokens([list(chars[:cut1])], min_count=1)
        ids = vocab.encode(list(chars))  # (N,)
        return cls(vocab, (ids[:cut1], tags[:cut1]), (ids[cut1:cut2], tags[cut1:cut2]),
                   (ids[cut2:], tags[cut2:]), chars[cut2:])


@dataclass(frozen=True)
class TaggerConfig:
    cell: str = "gru"
    embed_size: int = 32
    hidden_size: int = 64
    seq_len: int = 64
    batch_size: int = 32
    lr: float = 3e-3
    clip: float = 5.0


class SequenceTagger:
    """Embedding -> RNN -> per-step linear head (``embed.weight``, ``rnn.*``, ``head.*``)."""

    def __init__(self, config: TaggerConfig, vocab_size: int, num_tags: int = 2, *,
                 rng: np.random.Generator | None = None, dtype=np.float32, params: dict[str, np.ndarray] | None = None):
        self.config = config
        rcfg = RecurrentConfig(config.cell, config.embed_size, config.hidden_size)
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            body = Recurrent(rcfg, rng=rng, dtype=dtype).params
            weight, bias = linear_init(config.hidden_size, num_tags, rng, dtype)
            params = ({"embed.weight": (embedding_init(vocab_size, config.embed_size, rng, np.float64) * 0.1).astype(dtype)}
                      | {f"rnn.{k}": v for k, v in body.items()} | {"head.weight": weight, "head.bias": bias})
        want = {"embed.weight": (vocab_size, config.embed_size), "head.weight": (num_tags, config.hidden_size),
                "head.bias": (num_tags,)} | {f"rnn.{k}": v for k, v in rcfg.param_shapes().items()}
        got = {k: tuple(v.shape) for k, v in params.items()}
        if got != want:
            raise ValueError(f"tagger parameters do not match its configuration: expected {want}, got {got}")
        self.params = params
        self.rnn = Recurrent(rcfg, {k[4:]: v for k, v in self.params.items() if k.startswith("rnn.")})

    def forward(self, x: np.ndarray, state: State | None = None):
        """x (T, B) ids -> (logits (T, B, K), final State, caches)."""
        e = embedding_forward(x, self.params["embed.weight"])  # (T, B, E)
        out, final, cache = self.rnn.forward(e, state)  # (T, B, H)
        logits = linear_forward(out, self.params["head.weight"], self.params["head.bias"])  # (T, B, K)
        return logits, final, (x, cache, out)

    def loss_and_grads(self, x: np.ndarray, tags: np.ndarray, state: State | None = None):
        logits, final, (x, cache, out) = self.forward(x, state)
        result = softmax_cross_entropy(logits, tags)
        dout, dW, db = linear_backward(result.dlogits, out, self.params["head.weight"])  # (T, B, H)
        g = self.rnn.backward(cache, dout)
        dembed = embedding_backward(g.dx, x, self.params["embed.weight"].shape[0])  # (V, E)
        grads = {"embed.weight": dembed} | {f"rnn.{k}": v for k, v in g.params.items()} | {"head.weight": dW, "head.bias": db}
        return result.loss, grads, final

    def predict_stream(self, ids: np.ndarray, streams: int = 16, chunk: int = 256) -> np.ndarray:
        """Tag probabilities (N, K) of a long stream, read as ``streams`` parallel pieces, state carried."""
        n = len(ids)
        per = -(-n // streams)
        padded = np.zeros(per * streams, dtype=np.int64)
        padded[:n] = ids
        x = padded.reshape(streams, per).T  # (T_total, B): piece b is ids[b*per : (b+1)*per]
        probs, state = [], None
        for start in range(0, per, chunk):
            logits, state, _ = self.forward(x[start : start + chunk], state)  # (T, B, K)
            probs.append(softmax(logits.astype(np.float64)))
        p = np.concatenate(probs)  # (per, B, K)
        return p.transpose(1, 0, 2).reshape(per * streams, -1)[:n]  # (N, K)


def tagging_metrics(tags: np.ndarray, predicted: np.ndarray) -> dict:
    tp = int(((predicted == 1) & (tags == 1)).sum())
    precision = tp / max(1, int((predicted == 1).sum()))
    recall = tp / max(1, int((tags == 1).sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float((predicted == tags).mean()), "boundary_f1": f1, "precision": precision, "recall": recall}


# ---- files and use ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tagger:
    """A trained tagger with its character vocabulary (what ``load_tagger`` returns)."""

    model: SequenceTagger
    vocab: WordVocab
    meta: dict


def save_tagger(path, model: SequenceTagger, vocab: WordVocab, half: bool = False, **extra) -> None:
    """safetensors (atomic); the configuration and the vocabulary in the metadata.  ``half``: float16 weights."""
    meta = {"format": FORMAT, "config": asdict(model.config), "vocab": vocab.words, "tags": list(TAGS)} | extra
    tensors = {k: v.astype(np.float16) for k, v in model.params.items()} if half else model.params
    save_checkpoint(path, tensors, meta)


def load_tagger(path) -> Tagger:
    tensors, meta = load_checkpoint(path)
    if not meta or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tagger checkpoint (format {meta and meta.get('format')!r})")
    try:
        config = TaggerConfig(**meta["config"])
        vocab = WordVocab(meta["vocab"])
        params = {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in tensors.items()}
        return Tagger(SequenceTagger(config, len(vocab), len(meta["tags"]), params=params), vocab, meta)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: the tensors do not match the metadata ({e})") from None


def segment(tagger: Tagger, text: str, threshold: float = 0.5) -> dict:
    """Take the whitespace out of ``text`` and let the network put the word boundaries back.

    Returns the characters, the true tags (from the whitespace that was there), P(boundary) before
    each character, the predicted tags, the text re-segmented, the metrics against the truth and the
    characters the vocabulary does not know (read as ``<unk>``).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if len(text) > SEGMENT_MAX_CHARS:
        raise ValueError(f"text is {len(text)} characters long; at most {SEGMENT_MAX_CHARS}")
    chars, tags = boundary_tags(text)
    if not chars:
        raise ValueError("the text has no characters besides whitespace")
    ids = tagger.vocab.encode(list(chars))  # (N,)
    logits, _, _ = tagger.model.forward(ids[:, None])  # (N, 1, K)
    p_boundary = softmax(logits[:, 0].astype(np.float64))[:, 1]  # (N,)
    predicted = (p_boundary > threshold).astype(np.int64)  # (N,)
    predicted[0] = 0  # nothing comes before the first character
    unknown = sorted({c for c, i in zip(chars, ids) if i == tagger.vocab.unk_id})
    return {"chars": list(chars), "truth": tags.tolist(), "p_boundary": p_boundary.tolist(),
            "predicted": predicted.tolist(), "segmented": insert_boundaries(chars, predicted),
            "metrics": tagging_metrics(tags, predicted), "unknown": unknown}


# ---- training ----------------------------------------------------------------------------------------

@dataclass
class TaggerTrainResult:
    model: SequenceTagger
    steps: int
    seconds: float
    best_val_accuracy: float
    history: list[dict] = field(default_factory=list)


def train_tagger(data: TaggingData, config: TaggerConfig, *, seconds: float = 120.0, max_steps: int = 2000,
                 eval_every: int = 100, patience: int = 5, seed: int = 0,
                 on_eval: Callable[[dict], None] | None = None) -> TaggerTrainResult:
    """Adam on random windows of the training stream; keeps the best validation accuracy."""
    rng = np.random.default_rng(seed)
    model = SequenceTagger(config, len(data.vocab), len(TAGS), rng=rng)
    optimizer = Adam(lr=config.lr)
    ids, tags = data.train
    T = config.seq_len
    if len(ids) <= T:
        raise ValueError(f"the training stream ({len(ids)} characters) is shorter than one window of {T}")
    best = (-1.0, copy.deepcopy(model.params))
    history: list[dict] = []
    start, step, bad = time.perf_counter(), 0, 0
    while step < max_steps:
        step += 1
        starts = rng.integers(0, len(ids) - T, size=config.batch_size)  # (B,)
        steps = starts[None, :] + np.arange(T)[:, None]  # (T, B)
        loss, grads, _ = model.loss_and_grads(ids[steps], tags[steps])
        clip_grad_norm(grads, config.clip)
        optimizer.step(model.params, grads)
        elapsed = time.perf_counter() - start
        done = step == max_steps or elapsed > seconds
        if step % eval_every == 0 or done:
            val_acc = tagging_metrics(data.val[1], model.predict_stream(data.val[0]).argmax(axis=1))["accuracy"]
            record = {"step": step, "loss": loss, "val_accuracy": val_acc, "seconds": elapsed}
            history.append(record)
            if on_eval:
                on_eval(record)
            if val_acc > best[0]:
                best, bad = (val_acc, copy.deepcopy(model.params)), 0
            else:
                bad += 1
                done = done or bad >= patience
        if done:
            break
    for name, value in best[1].items():
        model.params[name][...] = value
    return TaggerTrainResult(model, step, time.perf_counter() - start, best[0], history)


# ---- baselines -----------------------------------------------------------------------------------------

class NgramTagger:
    """The most frequent tag after each context of the last ``order`` characters, backing off to shorter ones."""

    def __init__(self, order: int):
        self.order = order
        self.tables: list[dict[tuple, int]] = []
        self.majority = 0

    def fit(self, ids: np.ndarray, tags: np.ndarray) -> NgramTagger:
        self.majority = int(np.bincount(tags, minlength=2).argmax())
        self.tables = []
        for n in range(1, self.order + 1):
            counts: dict[tuple, Counter] = defaultdict(Counter)
            for t in range(n - 1, len(ids)):
                counts[tuple(ids[t - n + 1 : t + 1])][int(tags[t])] += 1
            self.tables.append({ctx: c.most_common(1)[0][0] for ctx, c in counts.items()})
        return self

    def predict(self, ids: np.ndarray) -> np.ndarray:
        out = np.full(len(ids), self.majority, dtype=np.int64)
        for t in range(len(ids)):
            for n in range(min(self.order, t + 1), 0, -1):
                tag = self.tables[n - 1].get(tuple(ids[t - n + 1 : t + 1]))
                if tag is not None:
                    out[t] = tag
                    break
        return out


def compare_taggers(data: TaggingData, config: TaggerConfig, **train_options) -> dict:
    """Test-part metrics of the network and of the baselines: {name: metrics}, plus the training run."""
    result = train_tagger(data, config, **train_options)
    test_ids, test_tags = data.test
    predicted = result.model.predict_stream(test_ids).argmax(axis=1)
    rows = {f"{config.cell.upper()} tagger": tagging_metrics(test_tags, predicted)}
    rows["majority tag"] = tagging_metrics(test_tags, np.full(len(test_tags), int(np.bincount(data.train[1]).argmax())))
    for order, name in ((2, "bigram lookup"), (3, "trigram lookup")):
        rows[name] = tagging_metrics(test_tags, NgramTagger(order).fit(*data.train).predict(test_ids))
    return {"rows": rows, "train": result, "predicted": predicted}
