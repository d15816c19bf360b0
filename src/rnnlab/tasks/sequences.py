"""Sequences for the RNN visualizer: what the page feeds the network and what it must predict.

Types (``SEQUENCE_TYPES``): sine wave, square wave, counting (an arithmetic progression modulo n),
text characters, random bits with a memory target (y_t = x_{t-k} or the parity of the last two
bits), and free input typed by the user (numbers or text).  Each type has named presets
(``Example``); ``make_sequence`` builds the one shown in the page and ``training_batch`` draws
random variants of it (other phases, offsets, bits) to train on.  New types (the long-range memory
tasks of the vanishing-gradient section, ``memory_sequences.py``) are added with
``register_sequence_type``.

Proved by ``tests/tasks/test_visualizer.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LENGTH_RANGE = (2, 200)
FREE_TEXT_MAX = 400

@dataclass(frozen=True)
class Example:
    name: str  # id used by the API
    label: str  # shown in the page
    params: dict = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class SequenceData:
    """One sequence ready for the network: inputs, targets and how to show them."""

    type: str
    example: str
    kind: str  # "regression" (predict the next value) | "classification" (predict a class)
    inputs: np.ndarray  # (T, I) floats, or (T,) integer class indices read as one-hot
    targets: np.ndarray  # (T,) floats (regression) or integer class indices
    mask: np.ndarray  # (T,) bool: steps that have a target
    input_labels: list[str]
    target_labels: list[str]
    classes: list[str] | None  # class names (classification); the one-hot input uses the same list
    input_size: int  # I
    output_size: int  # 1 (regression) or the number of classes
    description: str = ""
    scale: float = 1.0  # regression: values shown = network values * scale

    @property
    def length(self) -> int:
        return int(self.targets.shape[0])


class SequenceType:
    """A family of sequences: presets, the one shown, and random variants to train on."""

    name = ""
    label = ""
    kind = "regression"
    description = ""
    examples: tuple[Example, ...] = ()

    def example(self, name: str | None) -> Example:
        if name is None:
            return self.examples[0]
        for ex in self.examples:
            if ex.name == name:
                return ex
        raise ValueError(f"sequence example must be one of {[e.name for e in self.examples]} "
                         f"for type {self.name!r}, got {name!r}")

    def make(self, example: Example, length: int, text: str = "", rng: np.random.Generator | None = None
             ) -> SequenceData:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "label": self.label, "kind": self.kind, "description": self.description,
                "examples": [{"name": e.name, "label": e.label, "description": e.description} for e in self.examples]}


def format_value(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:.3g}"


def _next_value_data(type_name, example, values, description, scale=1.0) -> SequenceData:
    """Regression: read values[t] (scaled by 1/scale), predict values[t+1]."""
    values = np.asarray(values, dtype=np.float64)  # (T+1,)
    x = (values[:-1] / scale)[:, None]  # (T, 1)
    y = values[1:] / scale  # (T,)
    return SequenceData(type_name, example.name, "regression", x, y, np.ones(len(y), bool),
                        [format_value(v) for v in values[:-1]], [format_value(v) for v in values[1:]], None, 1, 1,
                        description, scale)


def _class_data(type_name, example, symbols, classes, description, targets=None, mask=None) -> SequenceData:
    """Classification over `classes`: read symbols[t], predict targets[t] (default symbols[t+1])."""
    index = {c: i for i, c in enumerate(classes)}
    if targets is None:
        x_sym, y_sym = symbols[:-1], symbols[1:]
    else:
        x_sym, y_sym = symbols, targets
    x = np.array([index[s] for s in x_sym], dtype=np.int64)  # (T,)
    y = np.array([index[s] for s in y_sym], dtype=np.int64)  # (T,)
    mask = np.ones(len(y), bool) if mask is None else np.asarray(mask, bool)
    labels = [s if m else "" for s, m in zip(y_sym, mask)]
    return SequenceData(type_name, example.name, "classification", x, y, mask, list(x_sym), labels,
                        list(classes), len(classes), len(classes), description)


class Sine(SequenceType):
    name, label, kind = "sine", "Sine wave", "regression"
    description = "Read xₜ = sin(2πt / period + φ); predict the next value xₜ₊₁."
    examples = (
        Example("period12", "Period 12", {"period": 12.0}, "a smooth wave, 12 steps per cycle"),
        Example("period6", "Period 6 (fast)", {"period": 6.0}, "fewer samples per cycle"),
        Example("period24", "Period 24 (slow)", {"period": 24.0}, "a slow wave"),
        Example("twotone", "Two tones", {"period": 16.0, "period2": 5.0}, "sin(2πt/16) + ½ sin(2πt/5)"),
    )

    def make(self, example, length, text="", rng=None):
        p = example.params
        phase = 0.0 if rng is None else rng.uniform(0, 2 * np.pi)
        t = np.arange(length + 1)  # (T+1,)
        v = np.sin(2 * np.pi * t / p["period"] + phase)
        if "period2" in p:
            v = (v + 0.5 * np.sin(2 * np.pi * t / p["period2"] + 2 * phase)) / 1.5
        return _next_value_data(self.name, example, v, example.description)


class Square(SequenceType):
    name, label, kind = "square", "Square wave", "regression"
    description = "Read a wave that jumps between +1 and -1; predict the next value."
    examples = (
        Example("period8", "Period 8", {"period": 8, "duty": 0.5}, "4 steps up, 4 steps down"),
        Example("period4", "Period 4", {"period": 4, "duty": 0.5}, "2 up, 2 down"),
        Example("duty25", "Period 8, 25% duty", {"period": 8, "duty": 0.25}, "2 up, 6 down"),
        Example("period12", "Period 12", {"period": 12, "duty": 0.5}, "6 up, 6 down: needs to count"),
    )

    def make(self, example, length, text="", rng=None):
        period, duty = example.params["period"], example.params["duty"]
        shift = 0 if rng is None else int(rng.integers(period))
        t = np.arange(length + 1) + shift  # (T+1,)
        v = np.where((t % period) < duty * period, 1.0, -1.0)
        return _next_value_data(self.name, example, v, example.description)


class Counting(SequenceType):
    name, label, kind = "counting", "Counting", "classification"
    description = "An arithmetic progression modulo n: read a number, predict the next one."
    examples = (
        Example("plus1", "0, 1, 2, … (mod 10)", {"start": 0, "step": 1, "mod": 10}, "count up by one"),
        Example("plus3", "0, 3, 6, 9, 2, … (mod 10)", {"start": 0, "step": 3, "mod": 10}, "add three each step"),
        Example("minus1", "9, 8, 7, … (countdown)", {"start": 9, "step": -1, "mod": 10}, "count down"),
        Example("plus2mod6", "0, 2, 4, 0, … (mod 6)", {"start": 0, "step": 2, "mod": 6}, "add two modulo six"),
    )

    def make(self, example, length, text="", rng=None):
        p = example.params
        start = p["start"] if rng is None else int(rng.integers(p["mod"]))
        values = [(start + p["step"] * t) % p["mod"] for t in range(length + 1)]
        classes = [str(d) for d in range(p["mod"])]
        return _class_data(self.name, example, [str(v) for v in values], classes, example.description)


def _cycle_text(text: str, length: int, offset: int = 0) -> str:
    reps = (offset + length + 1) // len(text) + 1
    return (text * reps)[offset: offset + length + 1]


class Text(SequenceType):
    name, label, kind = "text", "Text characters", "classification"
    description = "Read one character at a time (one-hot); predict the next character."
    examples = (
        Example("hello", "hello world", {"text": "hello world "}, "a short phrase, repeated"),
        Example("abc", "abcabc…", {"text": "abc"}, "a pattern of three letters"),
        Example("tobe", "to be or not to be", {"text": "to be or not to be, that is the question. "},
                "Shakespeare, repeated"),
        Example("fox", "the quick brown fox", {"text": "the quick brown fox jumps over the lazy dog. "},
                "every letter of the alphabet"),
    )

    def make(self, example, length, text="", rng=None):
        source = example.params["text"]
        offset = 0 if rng is None else int(rng.integers(len(source)))
        chars = list(_cycle_text(source, length, offset))
        return _class_data(self.name, example, chars, sorted(set(source)), example.description)


class Bits(SequenceType):
    name, label, kind = "bits", "Random bits (memory)", "classification"
    description = "Read random bits; the target needs memory: the bit k steps back, or a parity."
    examples = (
        Example("delay1", "Echo the previous bit", {"delay": 1}, "yₜ = xₜ₋₁"),
        Example("delay3", "Echo the bit 3 steps back", {"delay": 3}, "yₜ = xₜ₋₃"),
        Example("delay5", "Echo the bit 5 steps back", {"delay": 5}, "yₜ = xₜ₋₅"),
        Example("xor", "XOR of the last two bits", {"xor": True}, "yₜ = xₜ XOR xₜ₋₁"),
    )

    def make(self, example, length, text="", rng=None):
        gen = np.random.default_rng(1234) if rng is None else rng
        bits = gen.integers(0, 2, size=length)  # (T,)
        if example.params.get("xor"):
            prev = np.concatenate([[0], bits[:-1]])  # (T,)
            targets, mask = bits ^ prev, np.arange(length) >= 1
        else:
            k = example.params["delay"]
            targets = np.concatenate([np.zeros(k, np.int64), bits[:-k]])[:length]  # (T,)
            mask = np.arange(length) >= k
        return _class_data(self.name, example, [str(b) for b in bits], ["0", "1"], example.description,
                           [str(b) for b in targets], mask)


def parse_numbers(text: str) -> list[float] | None:
    """'0.5, 1, -2' -> [0.5, 1.0, -2.0]; None unless every token is a finite number."""
    tokens = text.replace(",", " ").replace(";", " ").split()
    try:
        values = [float(tok) for tok in tokens]
    except ValueError:
        return None
    return values if values and all(math.isfinite(v) for v in values) else None


class Free(SequenceType):
    name, label, kind = "free", "Free input", "either"
    description = ("Type your own sequence: numbers separated by commas (predict the next value) "
                   "or any text (predict the next character).")
    examples = (
        Example("numbers", "Numbers", {"text": "0, 1, 0, -1, 0, 1, 0, -1, 0.5, 1, 0.5, 0"}, "a wave typed by hand"),
        Example("word", "A word", {"text": "abracadabra "}, "characters of a word"),
        Example("fib", "Fibonacci", {"text": "1, 1, 2, 3, 5, 8, 13, 21, 34, 55"}, "each number the sum of two"),
    )

    def make(self, example, length, text="", rng=None):
        source = text if text.strip() else example.params["text"]
        if len(source) > FREE_TEXT_MAX:
            raise ValueError(f"free input must be at most {FREE_TEXT_MAX} characters, got {len(source)}")
        numbers = parse_numbers(source)
        if numbers is not None:
            if len(numbers) < 2:
                raise ValueError("free input needs at least two numbers (read one, predict the next)")
            values = np.array(numbers[: length + 1])  # (T+1,)
            if rng is not None:  # train on cyclic rotations of what was typed
                values = np.roll(values, -int(rng.integers(len(values))))
            scale = max(1.0, float(np.max(np.abs(values))))
            return _next_value_data(self.name, example, values, "numbers typed by the user", scale)
        if len(source) < 2:
            raise ValueError("free input needs at least two characters (read one, predict the next)")
        offset = 0 if rng is None else int(rng.integers(len(source)))
        chars = list(_cycle_text(source, length, offset))
        return _class_data(self.name, example, chars, sorted(set(source)), "text typed by the user")


SEQUENCE_TYPES: dict[str, SequenceType] = {}


def register_sequence_type(seq_type: SequenceType) -> None:
    """Add a sequence type to the visualizer (the name must be new)."""
    if seq_type.name in SEQUENCE_TYPES:
        raise ValueError(f"sequence type {seq_type.name!r} is already registered")
    SEQUENCE_TYPES[seq_type.name] = seq_type


for _t in (Sine(), Square(), Counting(), Text(), Bits(), Free()):
    register_sequence_type(_t)


@dataclass(frozen=True)
class SequenceSpec:
    """What the user chose in the page's Sequence Type panel."""

    type: str = "sine"
    example: str | None = None
    length: int = 24
    text: str = ""  # free input


def _sequence_type(name: str) -> SequenceType:
    try:
        return SEQUENCE_TYPES[name]
    except KeyError:
        raise ValueError(f"sequence type must be one of {sorted(SEQUENCE_TYPES)}, got {name!r}") from None


def make_sequence(spec: SequenceSpec, rng: np.random.Generator | None = None) -> SequenceData:
    lo, hi = LENGTH_RANGE
    if not lo <= spec.length <= hi:
        raise ValueError(f"sequence length must be between {lo} and {hi}, got {spec.length}")
    seq_type = _sequence_type(spec.type)
    return seq_type.make(seq_type.example(spec.example), spec.length, spec.text, rng)


def training_batch(spec: SequenceSpec, rng: np.random.Generator, batch: int):
    """B random variants of the chosen sequence: (x (T, B, I) or (T, B) int, targets (T, B), mask (T, B))."""
    seqs = [make_sequence(spec, rng) for _ in range(batch)]
    T = min(s.length for s in seqs)
    x = np.stack([s.inputs[:T] for s in seqs], axis=1)  # (T, B, I) or (T, B)
    y = np.stack([s.targets[:T] for s in seqs], axis=1)  # (T, B)
    m = np.stack([s.mask[:T] for s in seqs], axis=1)  # (T, B)
    return x, y, m


def describe_sequence_types() -> list[dict]:
    return [t.describe() for t in SEQUENCE_TYPES.values()]
