"""The character-level language model: one-hot characters -> stacked RNN/LSTM/GRU -> linear head.

It is exactly this PyTorch module, parameter for parameter (``docs/checkpoints.md``)::

    rnn  = nn.LSTM(input_size=V, hidden_size=H, num_layers=L)     # or nn.RNN / nn.GRU
    head = nn.Linear(H, V)
    logits = head(rnn(one_hot(x))[0])                               # (T, B, V)

Parameters live in one flat dict with PyTorch's ``state_dict`` keys (``rnn.weight_ih_l0`` ...
``head.weight``, ``head.bias``); the recurrent body sees the same arrays without the prefix, so an
optimizer updating ``params`` in place updates the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data.vocab import CharVocab
from ..engine import (
    Recurrent,
    RecurrentConfig,
    State,
    check_params,
    linear_forward,
    linear_init,
    log_softmax,
    zero_state,
)
from ..engine.output import softmax_output_loss
from ..io.checkpoint import CheckpointError, checkpoint_file, load_checkpoint, save_checkpoint

FORMAT = "rnnlab.charlm/1"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "default.safetensors"


@dataclass(frozen=True)
class EvalResult:
    """Mean cross-entropy of predicting each character of a text from all the characters before it."""

    nats_per_char: float
    bits_per_char: float
    num_chars: int  # characters predicted: the stream's length minus one (the first is only read)
    skipped: int = 0  # characters outside the vocabulary removed from the stream (skip_unknown=True)

    @property
    def perplexity(self) -> float:
        return math.exp(self.nats_per_char)


@dataclass(frozen=True)
class CharLMConfig:
    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 2
    nonlinearity: str = "tanh"

    def recurrent(self, vocab_size: int) -> RecurrentConfig:
        return RecurrentConfig(self.cell, vocab_size, self.hidden_size, self.num_layers, self.nonlinearity)


class CharLM:
    def __init__(self, config: CharLMConfig, vocab: CharVocab, params: dict[str, np.ndarray] | None = None,
                 *, rng: np.random.Generator | None = None, dtype=np.float32, init: str = "pytorch", **init_options):
        self.config = config
        self.vocab = vocab
        V, H = len(vocab), config.hidden_size
        rcfg = config.recurrent(V)
        if params is None:
            rng = np.random.default_rng(0) if rng is None else rng
            body = Recurrent(rcfg, rng=rng, dtype=dtype, init=init, **init_options).params
            weight, bias = linear_init(H, V, rng, dtype)
            params = {f"rnn.{k}": v for k, v in body.items()} | {"head.weight": weight, "head.bias": bias}
        else:
            check_params(rcfg, params, prefix="rnn.")
            want = {"head.weight": (V, H), "head.bias": (V,)}
            for name, shape in want.items():
                if name not in params or params[name].shape != shape:
                    got = params[name].shape if name in params else "missing"
                    raise ValueError(f"{name} must have shape {shape}, got {got}")
            extra = sorted(set(params) - set(want) - {f"rnn.{k}" for k in rcfg.param_shapes()})
            if extra:
                raise ValueError(f"unexpected parameters: {extra}")
        self.params = params
        self.rnn = Recurrent(rcfg, {k[4:]: v for k, v in params.items() if k.startswith("rnn.")})

    def __repr__(self) -> str:
        c = self.config
        cell = f"{c.cell} ({c.nonlinearity})" if c.cell == "rnn" else c.cell
        return (f"CharLM({cell}, {c.num_layers} layer{'s' if c.num_layers > 1 else ''} x {c.hidden_size} units, "
                f"{len(self.vocab)} characters, {self.dtype.name})")

    # ---- numbers -------------------------------------------------------------------------------
    @property
    def dtype(self):
        return self.params["head.weight"].dtype

    def zero_state(self, batch: int = 1) -> State:
        return zero_state(self.rnn.config, batch, self.dtype)

    def forward(self, x: np.ndarray, state: State | None = None, record: bool = False):
        """x (T, B) character indices -> (logits (T, B, V), final State, caches)."""
        out, final, cache = self.rnn.forward(x, state, record=record)  # out (T, B, H)
        logits = linear_forward(out, self.params["head.weight"], self.params["head.bias"])  # (T, B, V)
        return logits, final, (cache, out)

    def loss_and_grads(self, x: np.ndarray, targets: np.ndarray, state: State | None = None):
        """Mean cross-entropy of predicting targets (T, B) from x (T, B); gradients of every parameter.

        Returns (OutputGrads (.loss, .per_step), grads dict with the params' names, final State, engine
        Gradients).  The head and loss run over batch chunks in threads (``engine/output.py``).
        """
        out, final, cache = self.rnn.forward(x, state)  # out (T, B, H)
        head = softmax_output_loss(out, self.params["head.weight"], self.params["head.bias"], targets)
        g = self.rnn.backward(cache, head.dh)
        grads = {f"rnn.{k}": v for k, v in g.params.items()} | {"head.weight": head.dweight, "head.bias": head.dbias}
        return head, grads, final, g

    # ---- sampling and evaluation (tasks/sampling.py, docs/sampling.md) --------------------------
    def generate(self, prompt: str = "", length: int = 200, **options) -> str:
        """The ``length`` characters generated after ``prompt`` (the prompt itself is not repeated).

        Options as ``sampling.stream``: temperature, top_k, top_p, seed, greedy.
        """
        from .sampling import stream

        return "".join(step.char for step in stream(self, prompt, length, **options))

    def next_char_distribution(self, prompt: str, temperature: float = 1.0) -> list[tuple[str, float]]:
        """All V characters with their probability of coming next after ``prompt``, most probable first.

        An empty prompt means the start of a text, as in ``sampling.stream``.
        """
        from .sampling import check_options, distribution, prime

        check_options(temperature)
        _, logits = prime(self, prompt)
        probs = distribution(logits, temperature)  # (V,) float64
        order = np.argsort(-probs, kind="stable")  # (V,)
        return [(self.vocab.chars[i], float(probs[i])) for i in order]

    def evaluate(self, text: str, skip_unknown: bool = False, window: int = 1024,
                 progress: Callable[[int, int], None] | None = None) -> EvalResult:
        """Mean cross-entropy of predicting each character of ``text`` from all the characters before it.

        The text is one continuous stream read from the zero state: character t+1 is predicted after
        reading characters 0..t, so ``num_chars`` is the stream's length minus one.  The state is carried
        from one window of ``window`` characters to the next and never reset, so ``window`` changes the
        speed and memory only, not the result.  Characters outside the vocabulary raise VocabError
        (naming them) or, with ``skip_unknown``, are removed from the stream before it is read.
        ``progress(done, total)`` is called after each window.
        """
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        ids = self.vocab.encode(text, skip_unknown=skip_unknown)  # (N,)
        skipped = len(text) - len(ids)
        if len(ids) < 2:
            raise ValueError(f"evaluation needs at least 2 characters in the vocabulary (one to read, one to "
                             f"predict), got {len(ids)}" + (f" after skipping {skipped}" if skipped else ""))
        from .sampling import one_blas_thread

        x, y = ids[:-1], ids[1:]  # (N-1,) read, (N-1,) predicted
        total, n, state = 0.0, len(x), None
        for start in range(0, n, window):
            xs = x[start : start + window, None]  # (W, 1)
            ys = y[start : start + window]  # (W,)
            with one_blas_thread():  # batch 1: matrix-vector products, fastest on one thread
                logits, state, _ = self.forward(xs, state)  # (W, 1, V)
            logp = log_softmax(logits[:, 0].astype(np.float64))  # (W, V)
            total -= float(logp[np.arange(len(ys)), ys].sum())
            if progress is not None:
                progress(min(start + window, n), n)
        nats = total / n
        return EvalResult(nats_per_char=nats, bits_per_char=nats / math.log(2.0), num_chars=n, skipped=skipped)

    # ---- files ---------------------------------------------------------------------------------
    def metadata(self, **extra) -> dict:
        meta = {"format": FORMAT, "config": asdict(self.config), "vocab": self.vocab.chars}
        meta.update(extra)
        return meta

    def save(self, path, **extra_meta) -> None:
        save_checkpoint(path, self.params, self.metadata(**extra_meta))

    @classmethod
    def load(cls, path) -> CharLM:
        tensors, meta = load_checkpoint(path)
        return cls.from_tensors(tensors, meta, source=str(path))

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], meta: dict | None, source: str = "checkpoint") -> CharLM:
        if meta is None or "vocab" not in meta:
            raise CheckpointError(f"{source}: no rnnlab metadata (a vocabulary is needed); "
                                  "use CharLM.from_torch_state_dict to import a bare PyTorch state_dict")
        try:
            config = CharLMConfig(**meta["config"])
            layers_in_file = sum(1 for k in tensors if k.startswith("rnn.weight_hh_l"))
            if config.num_layers != layers_in_file:  # checked first: a forged count must not cost time
                raise ValueError(f"the metadata says {config.num_layers} layers, the file holds {layers_in_file}")
            model = cls(config, CharVocab(meta["vocab"]), dict(tensors))
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{source}: the tensors do not match the metadata ({e})") from None
        model.meta = meta
        return model

    @classmethod
    def from_torch_state_dict(cls, state_dict: dict, vocab: CharVocab, cell: str, nonlinearity: str = "tanh") -> CharLM:
        """Import ``{**rnn.state_dict() prefixed 'rnn.', **head.state_dict() prefixed 'head.'}``.

        Accepts torch tensors or NumPy arrays; sizes are read from the shapes.
        """
        arrays = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)) for k, v in state_dict.items()}
        H = arrays["rnn.weight_hh_l0"].shape[1]
        L = sum(1 for k in arrays if k.startswith("rnn.weight_hh_l"))
        return cls(CharLMConfig(cell, H, L, nonlinearity), vocab, arrays)


def load_model(path=None) -> CharLM:
    """Load a char-LM checkpoint or the model of a run folder of ``rnnlab train``; None means the
    bundled default model."""
    if path is None and not DEFAULT_MODEL_PATH.exists():
        raise CheckpointError(f"the bundled default model is not there ({DEFAULT_MODEL_PATH} does not exist); "
                              "pass the path of a model checkpoint, e.g. one made with `rnnlab train`")
    return CharLM.load(DEFAULT_MODEL_PATH if path is None else checkpoint_file(path))
