"""The web app's RNN visualizer: sequences to feed, a small sequence model, and its trace as JSON.

Three parts, all NumPy (the server only calls them):

1. **Sequence types** (``SEQUENCE_TYPES``, in ``sequences.py`` and re-exported here): sine, square,
   counting, text, bits with a memory target, free input; ``make_sequence`` and ``training_batch``.
2. **SequenceModel**: one ``Recurrent`` layer and a linear head, trained in a few seconds with the
   engine's BPTT and Adam.  Regression types predict the next value (mean squared error);
   the others predict a class (softmax cross-entropy)::

       h_t = cell(x_t, h_{t-1})          y_t = W_hy h_t + b_y        (W_hy = ``head_weight``)

3. **trace_json**: one forward pass with ``record=True`` and one backward pass, as plain lists
   for the page: hidden states, gates, predictions, per-step losses, dL/dh_t, and for the math
   section's numbers the pre-activations and parameters of the first ``MATH_UNITS`` units.

Also here, for the text-generation section: ``prompt_distribution`` (the next-character
distribution of a char-LM and its entropy as the temperature moves) and ``sample_step_json``.

Proved by ``tests/tasks/test_visualizer.py``.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..engine import (
    INIT_SCHEMES,
    Adam,
    Recurrent,
    RecurrentConfig,
    clip_grad_norm,
    linear_backward,
    linear_forward,
    linear_init,
    log_softmax,
    mean_squared_error,
    softmax,
    softmax_cross_entropy,
)
from .sampling import one_blas_thread
from .sequences import (  # re-exported: the names the server, viz and tests use from the visualizer
    FREE_TEXT_MAX as FREE_TEXT_MAX,
)
from .sequences import (
    LENGTH_RANGE as LENGTH_RANGE,
)
from .sequences import (
    SEQUENCE_TYPES as SEQUENCE_TYPES,
)
from .sequences import (
    Example as Example,
)
from .sequences import (
    SequenceData as SequenceData,
)
from .sequences import (
    SequenceSpec as SequenceSpec,
)
from .sequences import (
    SequenceType as SequenceType,
)
from .sequences import (
    describe_sequence_types as describe_sequence_types,
)
from .sequences import (
    format_value as format_value,
)
from .sequences import (
    make_sequence as make_sequence,
)
from .sequences import (
    parse_numbers as parse_numbers,
)
from .sequences import (
    register_sequence_type as register_sequence_type,
)
from .sequences import (
    training_batch as training_batch,
)

CELLS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu")
INITS = INIT_SCHEMES
HIDDEN_RANGE = (2, 64)
ROUND = 4  # decimals kept in the JSON trace
MATH_UNITS = 8  # the math section shows the first units: pre-activations and parameters are sent for these


# ---- 2. the model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkSpec:
    """The page's Network Configuration panel."""

    cell: str = "rnn"
    hidden_size: int = 8
    activation: str = "tanh"  # vanilla RNN only
    init: str = "pytorch"
    recurrent_scale: float = 1.0  # W_hh is multiplied by this after initialization
    seed: int = 0

    def __post_init__(self) -> None:
        lo, hi = HIDDEN_RANGE
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if not lo <= self.hidden_size <= hi:
            raise ValueError(f"hidden_size must be between {lo} and {hi}, got {self.hidden_size}")
        if not (math.isfinite(self.recurrent_scale) and self.recurrent_scale >= 0):
            raise ValueError(f"recurrent_scale must be a finite number >= 0, got {self.recurrent_scale}")


@dataclass(frozen=True)
class TrainProgress:
    step: int
    loss: float
    elapsed: float  # seconds


class SequenceModel:
    """One recurrent layer and a linear head: ``y_t = W_hy h_t + b_y`` (float64 throughout)."""

    def __init__(self, network: NetworkSpec, input_size: int, output_size: int, kind: str):
        self.network, self.kind = network, kind
        self.input_size, self.output_size = input_size, output_size
        rng = np.random.default_rng(network.seed)
        config = RecurrentConfig(network.cell, input_size, network.hidden_size, 1, network.activation)
        self.rnn = Recurrent(config, rng=rng, dtype=np.float64, init=network.init)
        self.rnn.params["weight_hh_l0"] *= network.recurrent_scale
        weight, bias = linear_init(network.hidden_size, output_size, rng, np.float64)
        self.params = {**self.rnn.params, "head.weight": weight, "head.bias": bias}  # same arrays
        self.steps_trained = 0
        self.final_loss: float | None = None

    @classmethod
    def for_sequence(cls, network: NetworkSpec, seq: SequenceData) -> SequenceModel:
        return cls(network, seq.input_size, seq.output_size, seq.kind)

    def fits(self, seq: SequenceData) -> bool:
        return (seq.kind, seq.input_size, seq.output_size) == (self.kind, self.input_size, self.output_size)

    def _forward(self, x: np.ndarray, record: bool = False):
        out, _, cache = self.rnn.forward(x, record=record)  # out (T, B, H)
        y = linear_forward(out, self.params["head.weight"], self.params["head.bias"])  # (T, B, O)
        return out, y, cache

    def loss_and_grads(self, x, targets, mask, forward=None):
        """Mean loss over the masked steps; gradients of every parameter; dL/dh_t (T, B, H).

        `forward` reuses the result of ``self._forward(x)``."""
        out, y, cache = self._forward(x) if forward is None else forward
        dy = np.zeros_like(y)  # (T, B, O)
        if self.kind == "regression":
            res = mean_squared_error(y[..., 0][mask], targets[mask])
            dy[..., 0][mask] = res.dlogits
        else:
            res = softmax_cross_entropy(y[mask], targets[mask].astype(np.int64))
            dy[mask] = res.dlogits
        dout, dW, db = linear_backward(dy, out, self.params["head.weight"])  # dout (T, B, H)
        g = self.rnn.backward(cache, dout)
        grads = {**g.params, "head.weight": dW, "head.bias": db}
        return res.loss, grads, g.dh[0]

    def train(self, spec: SequenceSpec, seconds: float = 3.0, lr: float = 0.01, batch: int = 16,
              max_steps: int = 100_000, on_progress: Callable[[TrainProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None, report_every: float = 0.05) -> list[TrainProgress]:
        """Adam on random variants of the sequence for `seconds` (or `max_steps`); returns the curve."""
        with one_blas_thread():  # small matrices: threads only wait on each other
            return self._train(spec, seconds, lr, batch, max_steps, on_progress, should_stop, report_every)

    def _train(self, spec, seconds, lr, batch, max_steps, on_progress, should_stop, report_every):
        rng = np.random.default_rng(self.network.seed + 1)
        opt = Adam(lr=lr)
        history: list[TrainProgress] = []
        start = last_report = time.perf_counter()
        step = 0
        while step < max_steps:
            x, y, m = training_batch(spec, rng, batch)
            loss, grads, _ = self.loss_and_grads(x, y, m)
            if not math.isfinite(loss):
                break
            clip_grad_norm(grads, 5.0)
            opt.step(self.params, grads)
            step += 1
            now = time.perf_counter()
            point = TrainProgress(self.steps_trained + step, loss, now - start)
            history.append(point)
            if on_progress is not None and (now - last_report >= report_every or step == 1):
                on_progress(point)
                last_report = now
            if now - start >= seconds or (should_stop is not None and should_stop()):
                break
        self.steps_trained += step
        if history:
            self.final_loss = history[-1].loss
            if on_progress is not None:
                on_progress(history[-1])
        return history


# ---- 3. the trace ------------------------------------------------------------------------------
BIG = 1e30  # non-finite values (an exploding network) are sent as +-BIG (NaN as 0) and flagged


def _r(a) -> list:
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all() or np.abs(a).max(initial=0.0) > BIG:
        a = np.clip(np.nan_to_num(a, nan=0.0, posinf=BIG, neginf=-BIG), -BIG, BIG)
    return np.round(a, ROUND).tolist()


def trace_json(model: SequenceModel, seq: SequenceData) -> dict:
    """Everything the page shows for one sequence, as lists of floats (rounded to 5 decimals)."""
    if not model.fits(seq):
        raise ValueError("the network does not fit this sequence (a different input or output size)")
    with np.errstate(all="ignore"), one_blas_thread():  # an exploding network is shown, not refused
        return _trace_json(model, seq)


def _trace_json(model: SequenceModel, seq: SequenceData) -> dict:
    x = seq.inputs[:, None] if seq.inputs.ndim == 1 else seq.inputs[:, None, :]  # (T, 1) int or (T, 1, I)
    forward = model._forward(x, record=True)
    out, y, cache = forward  # out (T, 1, H), y (T, 1, O)
    targets = seq.targets[:, None]  # (T, 1)
    mask = seq.mask[:, None]  # (T, 1)
    loss, _, dh = model.loss_and_grads(x, targets, mask, forward)  # dh (T, 1, H)
    overflow = not all(np.isfinite(a).all() and np.abs(a).max(initial=0.0) <= BIG for a in (y, dh, np.float64(loss)))
    layer = cache.trace.layers[0]
    y = y[:, 0]  # (T, O)
    if model.kind == "regression":
        pred = y[:, 0]  # (T,)
        per_step = (pred - seq.targets) ** 2  # (T,)
        outputs = {"prediction": _r(pred * seq.scale), "target": _r(seq.targets * seq.scale)}
        pred_labels = [format_value(v) for v in pred * seq.scale]
    else:
        probs = softmax(y)  # (T, C)
        per_step = -log_softmax(y)[np.arange(seq.length), seq.targets]  # (T,)
        top = probs.argmax(axis=1)  # (T,)
        outputs = {"probs": _r(probs), "target_prob": _r(probs[np.arange(seq.length), seq.targets])}
        pred_labels = [seq.classes[i] for i in top]
    per_step = np.where(seq.mask, per_step, 0.0)  # (T,)
    p = model.params
    H = model.network.hidden_size
    K = min(H, MATH_UNITS)
    names = list(layer.gates) or ["h"]  # gate blocks in order (the vanilla RNN has one, its h)
    rows = np.concatenate([np.arange(j * H, j * H + K) for j in range(len(names))])  # (G*K,) first K of each block
    return {
        "sequence": {
            "type": seq.type, "example": seq.example, "kind": seq.kind, "length": seq.length,
            "description": seq.description, "input_labels": seq.input_labels, "target_labels": seq.target_labels,
            "classes": seq.classes, "mask": seq.mask.tolist(), "scale": seq.scale,
            "inputs": seq.inputs.tolist() if seq.inputs.ndim == 1 else _r(seq.inputs[:, 0]),
        },
        "network": {**asdict(model.network), "gates": list(layer.gates), "input_size": model.input_size,
                    "output_size": model.output_size, "steps_trained": model.steps_trained},
        "hidden": _r(layer.h[:, 0]),  # (T, H)
        "cell_state": None if layer.c is None else _r(layer.c[:, 0]),  # (T, H)
        "gates": {name: _r(g[:, 0]) for name, g in layer.gates.items()},  # name -> (T, H)
        "preact": {name: _r(layer.preact[:, 0, j * H: j * H + K]) for j, name in enumerate(names)},  # name -> (T, K)
        "outputs": outputs,
        "predicted_labels": pred_labels,
        "loss": float(loss) if math.isfinite(loss) else None,
        "overflow": bool(overflow),
        "step_loss": _r(per_step),
        "grad_h": _r(dh[:, 0]),  # (T, H)  dL/dh_t
        "grad_h_norm": _r(np.linalg.norm(dh[:, 0], axis=1)),  # (T,)
        "params": {  # the first K units of every gate block (K = math_units)
            "math_units": K,
            "weight_ih": _r(p["weight_ih_l0"][rows]), "weight_hh": _r(p["weight_hh_l0"][rows][:, :K]),  # (G*K, I), (G*K, K)
            "bias_ih": _r(p["bias_ih_l0"][rows]), "bias_hh": _r(p["bias_hh_l0"][rows]),  # (G*K,)
            "head_weight": _r(p["head.weight"][:, :K]), "head_bias": _r(p["head.bias"]),  # (O, K), (O,)
        },
    }


# ---- text generation helpers -------------------------------------------------------------------
def prompt_distribution(model, prompt: str, temperature: float, temperatures=(), top: int = 10) -> dict:
    """The next-character distribution of a char-LM after `prompt` at `temperature`: its top characters,
    its entropy (bits), and the entropy at each of `temperatures` (the prompt is read once).

    p_T = softmax(z / T) for the logits z after the prompt; an empty prompt is the start of a text,
    as in ``tasks.sampling`` (whose ``prime`` and ``distribution`` this uses).
    """
    from .sampling import check_options, distribution, entropy_bits, prime

    for t in (temperature, *temperatures):
        check_options(t)
    _, logits = prime(model, prompt)  # (V,)
    probs = distribution(logits, temperature)  # (V,)
    curve = [entropy_bits(distribution(logits, t)) for t in temperatures]
    return {"probs": probs, "top": top_chars(probs, model.vocab.chars, top), "entropy": entropy_bits(probs),
            "entropy_curve": curve}


def top_chars(probs: np.ndarray, chars: list[str], k: int = 10) -> list[list]:
    """[[char, prob], ...] for the k most likely characters, most likely first."""
    k = min(k, len(chars))
    idx = np.argpartition(-probs, k - 1)[:k]  # (k,) unordered
    idx = idx[np.argsort(-probs[idx], kind="stable")]
    return [[chars[i], round(float(probs[i]), 5)] for i in idx]


def encode_hidden(hidden: np.ndarray) -> tuple[float, str]:
    """(L, H) floats -> (scale, base64 of int8 q) with h ~= q * scale / 127, row-major (layer by layer).

    A generated character carries its hidden state to the page hundreds of times a second; as int8
    it is 1 byte a unit instead of ~7 in JSON text, and 40x faster to encode.  The scale is max|h|,
    at least 1 (tanh, LSTM and GRU states lie in [-1, 1]; a ReLU state may be larger).
    """
    h = np.asarray(hidden, dtype=np.float64)
    finite = np.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)
    scale = max(1.0, float(np.abs(finite).max(initial=0.0)))
    q = np.rint(finite / scale * 127).astype(np.int8)  # (L, H)
    return scale, base64.b64encode(q.tobytes()).decode("ascii")


def sample_step_json(step, chars: list[str], top: int = 10) -> dict:
    """One ``tasks.sampling.SampleStep`` for the page, in short keys (sent hundreds of times a second):
    i position, c char, p its probability, top [[char, prob]...], rest the mass outside top,
    H entropy (bits), S surprisal (bits), hs and hq the hidden state (L, H) (``encode_hidden``)."""
    best = top_chars(step.probs, chars, top)
    scale, q = encode_hidden(step.hidden)
    return {
        "i": step.position, "c": step.char, "p": round(float(step.probs[step.char_index]), 5),
        "top": best, "rest": round(max(0.0, 1.0 - sum(p for _, p in best)), 5),
        "H": round(float(step.entropy), 4), "S": round(float(step.surprisal), 4), "hs": scale, "hq": q,
    }
