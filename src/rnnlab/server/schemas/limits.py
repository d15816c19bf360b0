"""Every limit on a client's input, in one table (``docs/http_api.md`` lists the same).

``bounded(lo, hi)`` makes a pydantic ``Field`` with the range and records it, so that a 422 reply
can say "hidden_size must be between 2 and 64 (got 1000)".
"""

from __future__ import annotations

from pydantic import Field

from ...tasks.visualizer import FREE_TEXT_MAX, HIDDEN_RANGE, LENGTH_RANGE

HIDDEN_MIN, HIDDEN_MAX = HIDDEN_RANGE
SEQ_LEN_MIN, SEQ_LEN_MAX = LENGTH_RANGE
FREE_TEXT_MAX_CHARS = FREE_TEXT_MAX
RECURRENT_SCALE_MAX = 4.0
SEED_MAX = 2**31 - 1
TRAIN_SECONDS_MIN, TRAIN_SECONDS_MAX = 0.5, 20.0
LR_MIN, LR_MAX = 1e-4, 0.1
GEN_LENGTH_MAX = 5000
PROMPT_MAX_CHARS = 2000
TEMPERATURE_MIN, TEMPERATURE_MAX = 0.1, 2.0
TOP_K_MAX = 1000

RANGES: dict[str, tuple[float, float]] = {}  # field ("length" or "sequence.length") -> (lo, hi), by bounded()


def bounded(name: str, lo, hi, default, description: str = "", **kw):
    RANGES[name] = (lo, hi)
    text = f"{description} ({lo}–{hi})".strip()
    return Field(default, ge=lo, le=hi, description=text, **kw)


def limited_text(name: str, max_chars: int, default: str = "", description: str = "", **kw):
    RANGES[name] = (0, max_chars)
    return Field(default, max_length=max_chars, description=f"{description} (at most {max_chars} characters)".strip(),
                 **kw)
