"""Every limit the server enforces, in one table: what it bounds, its value, who enforces it, the reply.

The transport limits are defined here (the security middleware and ``rnnlab serve`` use them); the
input ranges live in ``schemas/limits.py`` (the request schemas use them) and the run-time limits
in ``Settings``.  ``table()`` gathers all of them, so that ``docs/security.md`` can list them and a
test (``tests/server/test_security.py``) can check the page still lists every one with its value.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- transport limits (server/security.py) ----------------------------------------------------
MAX_BODY_BYTES = 1024 * 1024  # an HTTP request body, counted on the bytes received: 413 beyond
BODY_READ_SECONDS = 30.0  # a request body must arrive within this time: 408 beyond
MAX_WS_MESSAGE_BYTES = 64 * 1024  # one WebSocket message from a client: closed with 1009 beyond
UVICORN_WS_MAX_SIZE = 1024 * 1024  # the WebSocket frame size uvicorn itself accepts (``rnnlab serve``)


@dataclass(frozen=True)
class Limit:
    name: str  # what is bounded
    value: str  # the bound, with its unit
    where: str  # who enforces it
    reply: str  # what a client gets beyond it


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def table() -> list[Limit]:
    """Every limit, read from the modules that enforce it (so this table cannot drift from them)."""
    from ..io import checkpoint
    from . import ws
    from .schemas import gradients as g
    from .schemas import limits as s
    from .settings import Settings

    d = Settings()
    schema = "request schema (pydantic)"
    return [
        Limit("HTTP request body", _fmt_bytes(MAX_BODY_BYTES), "security middleware, bytes counted as received",
              "413"),
        Limit("time to receive a request body", f"{BODY_READ_SECONDS:g} s", "security middleware", "408"),
        Limit("WebSocket message from a client", _fmt_bytes(MAX_WS_MESSAGE_BYTES), "security middleware",
              "socket closed, code 1009"),
        Limit("WebSocket frame (protocol level)", _fmt_bytes(UVICORN_WS_MAX_SIZE), "uvicorn (`rnnlab serve`)",
              "socket closed, code 1009"),
        Limit("first WebSocket message (the request)", f"{ws.MAX_MESSAGE_BYTES // 1024} KiB, within "
              f"{ws.FIRST_MESSAGE_TIMEOUT:g} s", "server/ws.py", "error message, close 4422 / 4408"),
        Limit("generation length", f"1–{s.GEN_LENGTH_MAX} characters", schema, "422"),
        Limit("generation prompt", f"≤ {s.PROMPT_MAX_CHARS} characters", schema, "422"),
        Limit("temperature", f"{s.TEMPERATURE_MIN}–{s.TEMPERATURE_MAX}", schema, "422"),
        Limit("top-k", f"1–{s.TOP_K_MAX}", schema, "422"),
        Limit("generation time", f"{d.generation_time_limit:g} s", "generation manager",
              "the stream ends with `timed_out: true`"),
        Limit("visualizer hidden size", f"{s.HIDDEN_MIN}–{s.HIDDEN_MAX}", schema, "422"),
        Limit("visualizer sequence length", f"{s.SEQ_LEN_MIN}–{s.SEQ_LEN_MAX} steps", schema, "422"),
        Limit("visualizer free input", f"≤ {s.FREE_TEXT_MAX_CHARS} characters", schema, "422"),
        Limit("recurrent weight scale", f"0–{s.RECURRENT_SCALE_MAX:g}", schema, "422"),
        Limit("training time in the page", f"{s.TRAIN_SECONDS_MIN:g}–{s.TRAIN_SECONDS_MAX:g} s", schema, "422"),
        Limit("learning rate in the page", f"{s.LR_MIN:g}–{s.LR_MAX:g}", schema, "422"),
        Limit("gradient lab sequence length", f"{g.GRAD_SEQ_LEN_MIN}–{g.GRAD_SEQ_LEN_MAX} steps", schema, "422"),
        Limit("gradient lab skip across time", f"0–{g.TIME_SKIP_MAX} steps", schema, "422"),
        Limit("gradient check (finite differences) model", f"T ≤ {g.CHECK_SEQ_LEN_MAX}, H ≤ {g.CHECK_HIDDEN_MAX}",
              schema, "422"),
        Limit("concurrent trainings in the page", f"{d.max_training_jobs}", "visualizer manager",
              "error message, close 4503"),
        Limit("trained networks remembered", f"{d.trained_models_kept} (least recently used dropped)",
              "visualizer manager", "404 for an expired id"),
        Limit("checkpoint file", _fmt_bytes(checkpoint.DEFAULT_MAX_FILE_BYTES), "io/checkpoint.py",
              "CheckpointError (the model is listed as unavailable)"),
        Limit("checkpoint JSON header", _fmt_bytes(checkpoint.MAX_HEADER_BYTES), "io/checkpoint.py",
              "CheckpointError"),
    ]


def markdown_table() -> str:
    rows = ["| limit | value | enforced by | beyond it |", "|---|---|---|---|"]
    rows += [f"| {x.name} | {x.value} | {x.where} | {x.reply} |" for x in table()]
    return "\n".join(rows)


# ---- memory: give freed buffers back to the system ---------------------------------------------
MALLOC_MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, made fixed


def return_freed_memory_to_the_system() -> bool:
    """Fix glibc's mmap threshold so that large freed buffers go back to the system at once.

    glibc raises the threshold each time a large block is freed (up to 32 MiB); after that, the
    server's streamed JSON messages come from the heap and their memory stays with the process after
    a burst of clients (``benchmarks/load_test.py``, 50 concurrent streams: +144 MB kept; fixed:
    about +20 MB).  ``rnnlab serve`` calls it at start.  Returns False off glibc, or when the user
    set ``MALLOC_MMAP_THRESHOLD_`` (their choice wins).
    """
    import ctypes
    import ctypes.util
    import os

    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-3, MALLOC_MMAP_THRESHOLD))  # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False
