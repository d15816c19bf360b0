"""Sampling text from a character-level language model, one character at a time.

    for step in stream(model, prompt="ROMEO:", length=200, temperature=0.8, top_k=20, seed=1):
        print(step.char, end="")      # step.probs (V,), step.hidden (L, H), step.surprisal, step.entropy

Each step, given the logits ``y`` (V,) the model produced after reading the previous character:

1. temperature: ``p = softmax(y / temperature)``  (temperature > 0; < 1 sharpens, > 1 flattens)
2. top-k:       keep the k most probable characters, zero the rest
3. top-p:       keep the smallest set of most probable characters whose mass reaches p, zero the rest
4. renormalise, then draw one character from ``p`` (or take ``argmax p`` when ``greedy``)
5. feed the drawn character back in, carrying the recurrent state.

``SampleStep.probs`` is the distribution of step 4, exactly what the character was drawn from.

Priming: the prompt is read one character at a time from the zero state; the first generated
character is drawn from the distribution after the prompt's last character.  An empty prompt reads a
newline "\\n" instead (or the vocabulary's first character when "\\n" is not in it).

The fast single step (``Stepper``): generating reads one character at batch 1 per step, where the
general ``Recurrent.forward`` (arbitrary T, B, caches for BPTT) spends most of its time on
bookkeeping.  ``Stepper`` does only the cell arithmetic of ``engine/*_cell.py`` on preallocated
buffers; the one-hot input product of the first layer is a row gather of ``W_ih.T`` with the biases
already added, and the LSTM's four gate activations are one ``tanh`` (the sigmoid gates' weights are
halved once, since ``sigmoid(a) = 0.5 * tanh(a / 2) + 0.5``).  ``tests/tasks/test_sampling.py`` proves it equal to ``CharLM.forward`` (every step's
probabilities and hidden states, all three cells, 1-3 layers).

Shape legend: V vocabulary, L layers, H hidden, G gates.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING

import numpy as np

from ..engine import State, blas

if TYPE_CHECKING:
    from .charlm import CharLM

LOG2E = 1.0 / math.log(2.0)


@dataclass(frozen=True)
class SampleStep:
    position: int  # 0-based index of this generated character
    char: str  # the sampled character
    char_index: int  # its vocabulary index
    probs: np.ndarray  # (V,) float64: the distribution it was drawn from (after temperature/top-k/top-p)
    hidden: np.ndarray  # (L, H): the hidden state h that produced `probs` (after reading the previous char)
    surprisal: float  # -log2 probs[char_index], bits
    entropy: float  # entropy of probs in bits


# ---- the fast single step ------------------------------------------------------------------------
_BLAS_LIBS = None  # threadpoolctl's controllers of the other loaded BLAS libraries, found once
_blas_lock = threading.Lock()
_blas_users = 0  # how many callers are inside one_blas_thread() now
_blas_saved: list = []  # (library, thread count) to restore when the last one leaves


class _OneBlasThread:
    """Every loaded BLAS library on one thread, and back when the last user leaves.

    NumPy's own OpenBLAS goes through ``engine.blas.single_threaded``, the count the engine's chunk
    threads hold too; the other libraries (SciPy's, torch's) are counted here the same way.  So
    requests in concurrent server threads, and a training step beside them, restore each library
    once, to what it had before the first of them came, whatever order they leave in.
    """

    def __enter__(self):
        global _blas_users
        self.numpy = blas.single_threaded()
        self.numpy.__enter__()
        with _blas_lock:
            if _blas_users == 0:
                _blas_saved[:] = [(lib, n) for lib in _BLAS_LIBS if (n := lib.get_num_threads()) != 1]
                for lib, _ in _blas_saved:
                    lib.set_num_threads(1)
            _blas_users += 1

    def __exit__(self, *exc):
        global _blas_users
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, n in _blas_saved:
                    lib.set_num_threads(n)
        self.numpy.__exit__(*exc)
        return False


def one_blas_thread():
    """A context in which BLAS runs on one thread (NumPy's OpenBLAS, and with threadpoolctl every
    other loaded BLAS library).

    A batch-1 step is a few small matrix-vector products; splitting each over threads buys nothing,
    and on a busy machine every thread hand-off can wait for a scheduler slice.  OpenBLAS keeps a
    (256, 1024) product on one thread by itself, but splits (512, 1024) and larger ones: measured on
    the shared 2-core machine of ``benchmarks/RESULTS.md``, those then took 4-100x longer than on one
    thread.  The limit is held only while a step computes, never across a ``yield``.  (This is
    threadpoolctl's ``limit(1, "blas")`` without its per-call library scan: a few us instead of ~10.)
    """
    global _BLAS_LIBS
    if _BLAS_LIBS is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS_LIBS = []
        else:
            numpys = os.path.realpath(blas.library_path() or "")
            _BLAS_LIBS = [lib for lib in ThreadpoolController().select(user_api="blas").lib_controllers
                          if os.path.realpath(lib.filepath) != numpys]
    return _OneBlasThread()


def _sigmoid_(z: np.ndarray) -> np.ndarray:
    """In place: z <- 1 / (1 + exp(-z)), written as 0.5 * tanh(0.5 z) + 0.5 (no overflow)."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
    return z


class Stepper:
    """Reads one character at a time (batch 1) and returns the next-character logits (V,).

    The weights are copied (transposed, contiguous) when the stepper is made: a model trained
    further afterwards needs a new stepper.
    """

    def __init__(self, model: CharLM, state: State | None = None):
        cfg = model.config
        p = model.params
        self.cell = cfg.cell
        self.nonlinearity = cfg.nonlinearity
        self.L, self.H = cfg.num_layers, cfg.hidden_size
        self.dtype = model.dtype
        H, G = self.H, {"rnn": 1, "lstm": 4, "gru": 3}[cfg.cell]
        # GRU keeps b_hn apart (the reset gate multiplies W_hn h + b_hn); RNN/LSTM add both biases.
        merge = cfg.cell != "gru"
        self.w_ih_t, self.w_hh_t, self.b_in, self.b_hh = [], [], [], []
        for k in range(self.L):
            w_ih, w_hh = p[f"rnn.weight_ih_l{k}"], p[f"rnn.weight_hh_l{k}"]  # (G*H, I_k), (G*H, H)
            b_ih, b_hh = p[f"rnn.bias_ih_l{k}"], p[f"rnn.bias_hh_l{k}"]  # (G*H,)
            b_in = b_ih + b_hh if merge else b_ih.copy()  # (G*H,)
            if k == 0:
                # one-hot x @ W_ih.T + b is row x of this table
                self.w_ih_t.append(np.ascontiguousarray(w_ih.T) + b_in)  # (V, G*H)
                self.b_in.append(None)
            else:
                self.w_ih_t.append(np.array(w_ih.T, order="C"))  # (H, G*H) a copy: scaled in place below
                self.b_in.append(b_in)
            self.w_hh_t.append(np.array(w_hh.T, order="C"))  # (H, G*H) a copy
            self.b_hh.append(None if merge else b_hh.copy())
        if cfg.cell == "lstm":
            # All four gates with one tanh: sigmoid(a) = 0.5 * tanh(0.5 a) + 0.5 and g = tanh(a), so the
            # i, f, o columns of the weights and biases are halved once here, and a step computes
            # act = tanh(z) * gate_scale + gate_shift  with scale [.5 .5 1 .5], shift [.5 .5 0 .5].
            self.gate_scale = np.full(G * H, 0.5, self.dtype)  # (4H,)
            self.gate_scale[2 * H : 3 * H] = 1.0
            self.gate_shift = np.full(G * H, 0.5, self.dtype)  # (4H,)
            self.gate_shift[2 * H : 3 * H] = 0.0
            for k in range(self.L):
                self.w_ih_t[k] *= self.gate_scale
                self.w_hh_t[k] *= self.gate_scale
                if self.b_in[k] is not None:
                    self.b_in[k] *= self.gate_scale
        self.head_w_t = np.ascontiguousarray(p["head.weight"].T)  # (H, V)
        self.head_b = p["head.bias"].copy()  # (V,)
        self.h = np.zeros((self.L, H), self.dtype)  # (L, H)
        self.c = np.zeros((self.L, H), self.dtype) if cfg.cell == "lstm" else None  # (L, H)
        self.z = np.empty(G * H, self.dtype)  # (G*H,) gate pre-activations, activated in place
        self.gh = np.empty(G * H, self.dtype)  # (G*H,) GRU: W_hh h_prev + b_hh
        self.tmp = np.empty(H, self.dtype)  # (H,)
        self.logits = np.empty(len(model.vocab), self.dtype)  # (V,)
        if state is not None:
            self.set_state(state)

    def set_state(self, state: State) -> None:
        """Start from a batch-1 State (h (L, 1, H), c) instead of zeros."""
        self.h[...] = state.h[:, 0]
        if self.c is not None:
            self.c[...] = state.c[:, 0]

    @property
    def state(self) -> State:
        """The current state as an engine State (L, 1, H), a copy."""
        return State(self.h[:, None].copy(), None if self.c is None else self.c[:, None].copy())

    def step(self, index: int) -> np.ndarray:
        """Read the character with vocabulary index ``index``; return the logits (V,) (a reused buffer)."""
        with one_blas_thread():
            return self._step(index)

    def read(self, indices) -> np.ndarray:
        """Read several characters; return the logits (V,) after the last (a reused buffer)."""
        logits = None
        with one_blas_thread():
            for index in indices:
                logits = self._step(int(index))
        if logits is None:
            raise ValueError("read() needs at least one character")
        return logits

    def _step(self, index: int) -> np.ndarray:
        H, z = self.H, self.z
        for k in range(self.L):
            h_prev = self.h[k]  # (H,) updated in place below
            if self.cell == "gru":
                # gi = x W_ih.T + b_ih, gh = h_prev W_hh.T + b_hh; r, z = sigmoid(gi + gh)[:2H]
                if k == 0:
                    z[...] = self.w_ih_t[0][index]  # (3H,)
                else:
                    np.dot(self.h[k - 1], self.w_ih_t[k], out=z)
                    z += self.b_in[k]
                gh = self.gh
                np.dot(h_prev, self.w_hh_t[k], out=gh)
                gh += self.b_hh[k]
                z[: 2 * H] += gh[: 2 * H]
                _sigmoid_(z[: 2 * H])
                r, u, n = z[:H], z[H : 2 * H], z[2 * H :]
                np.multiply(r, gh[2 * H :], out=self.tmp)
                n += self.tmp
                np.tanh(n, out=n)  # n = tanh(gi_n + r * gh_n)
                h_prev -= n
                h_prev *= u
                h_prev += n  # h = n + z * (h_prev - n) = (1 - z) * n + z * h_prev
                continue
            # RNN and LSTM: z = x W_ih.T + h_prev W_hh.T + (b_ih + b_hh)
            np.dot(h_prev, self.w_hh_t[k], out=z)
            if k == 0:
                z += self.w_ih_t[0][index]
            else:
                np.dot(self.h[k - 1], self.w_ih_t[k], out=self.gh)
                z += self.gh
                z += self.b_in[k]
            if self.cell == "rnn":
                if self.nonlinearity == "tanh":
                    np.tanh(z, out=h_prev)
                else:
                    np.maximum(z, 0, out=h_prev)
                continue
            np.tanh(z, out=z)
            z *= self.gate_scale
            z += self.gate_shift  # [i f g o] = [sigmoid sigmoid tanh sigmoid] of the unhalved z
            c = self.c[k]
            c *= z[H : 2 * H]
            np.multiply(z[:H], z[2 * H : 3 * H], out=self.tmp)
            c += self.tmp  # c = f * c_prev + i * g
            np.tanh(c, out=h_prev)
            h_prev *= z[3 * H :]  # h = o * tanh(c)
        np.dot(self.h[-1], self.head_w_t, out=self.logits)
        self.logits += self.head_b
        return self.logits


# ---- the distribution ----------------------------------------------------------------------------
def check_options(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None) -> None:
    """Raise ValueError with a clear message for a bad temperature, top_k or top_p."""
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not math.isfinite(temperature) \
            or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0 (for greedy decoding use greedy=True), "
                         f"got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, Integral) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, Real) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be a number in (0, 1] or None, got {top_p!r}")


def distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None) -> np.ndarray:
    """Steps 1-4 of the module docstring: logits (V,) -> probabilities (V,) float64 summing to 1."""
    y = np.asarray(logits, dtype=np.float64) / temperature  # (V,)
    y -= y.max()
    p = np.exp(y)  # (V,)
    p /= p.sum()
    V = p.shape[0]
    if top_k is not None and top_k < V:
        drop = np.argpartition(p, V - top_k)[: V - top_k]  # the V - k least probable
        p[drop] = 0.0
        p /= p.sum()
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, kind="stable")  # (V,) most probable first
        mass = np.cumsum(p[order])  # (V,)
        keep = min(int(np.searchsorted(mass, top_p)) + 1, V)  # smallest n with mass[n-1] >= top_p
        p[order[keep:]] = 0.0
        p /= p.sum()
    return p


def draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn from probs (V,) by inverting the cumulative distribution with one uniform number."""
    cdf = np.cumsum(probs)  # (V,)
    index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    if index >= len(probs):  # u * total rounded up to the total: take the last possible character
        index = int(np.flatnonzero(probs)[-1])
    return index


def entropy_bits(probs: np.ndarray) -> float:
    nz = probs[probs > 0]
    return float(-(nz * np.log(nz)).sum() * LOG2E)


# ---- priming and streaming -----------------------------------------------------------------------
def prime(model: CharLM, prompt: str = "") -> tuple[Stepper, np.ndarray]:
    """A stepper that has read the prompt (or the empty-prompt start), and the logits (V,) after it.

    Raises VocabError (naming them) for prompt characters outside the vocabulary.
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    vocab = model.vocab
    indices = vocab.encode(prompt) if prompt else [vocab.index.get("\n", 0)]
    stepper = Stepper(model)
    return stepper, stepper.read(indices)


def stream(model: CharLM, prompt: str = "", length: int = 200, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, seed: int | np.random.Generator | None = None,
           greedy: bool = False) -> Iterator[SampleStep]:
    """Generate ``length`` characters after ``prompt``, yielding a SampleStep for each.

    The arguments are checked when ``stream`` is called (not at the first ``next``): ValueError for
    a bad temperature, top_k, top_p or length, VocabError for prompt characters outside the
    vocabulary.  The same seed gives the same text.  ``greedy`` takes the most probable character
    (``probs`` is still reported after temperature/top-k/top-p; its argmax does not depend on them).
    """
    check_options(temperature, top_k, top_p)
    if isinstance(length, bool) or not isinstance(length, Integral) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    stepper, logits = prime(model, prompt)
    return _steps(model, stepper, logits, int(length), temperature, top_k, top_p, rng, greedy)


def _steps(model, stepper: Stepper, logits, length, temperature, top_k, top_p, rng, greedy) -> Iterator[SampleStep]:
    chars = model.vocab.chars
    for position in range(length):
        probs = distribution(logits, temperature, top_k, top_p)  # (V,)
        index = int(np.argmax(probs)) if greedy else draw(probs, rng)
        yield SampleStep(
            position=position,
            char=chars[index],
            char_index=index,
            probs=probs,
            hidden=stepper.h.astype(np.float64),  # (L, H) a copy
            surprisal=float(-math.log(probs[index]) * LOG2E),
            entropy=entropy_bits(probs),
        )
        if position + 1 < length:
            logits = stepper.step(index)
