"""Schemas of the generation resource (``/api/generate``, ``/api/generate/stream``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .limits import (
    GEN_LENGTH_MAX,
    PROMPT_MAX_CHARS,
    SEED_MAX,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    TOP_K_MAX,
    bounded,
    limited_text,
)
from .models import MODEL_ID_PATTERN


class GenerateRequest(BaseModel):
    """A generation; for the stream it is the first WebSocket message."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    model: str | None = Field(None, pattern=MODEL_ID_PATTERN, description="a model id; null = the default")
    prompt: str = limited_text("prompt", PROMPT_MAX_CHARS, "", "text to continue")
    length: int = bounded("length", 1, GEN_LENGTH_MAX, 200, "characters to generate")
    temperature: float = bounded("temperature", TEMPERATURE_MIN, TEMPERATURE_MAX, 1.0, "softmax temperature")
    top_k: int | None = bounded("top_k", 1, TOP_K_MAX, None, "sample among the k most likely only")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="nucleus sampling: smallest set with mass >= p (0–1]")
    seed: int | None = bounded("seed", 0, SEED_MAX, None, "random seed; null = fresh randomness")
    greedy: bool = Field(False, description="always take the most likely character")


class GeneratedChar(BaseModel):
    char: str
    prob: float
    surprisal: float = Field(description="bits")
    entropy: float = Field(description="bits")


class GenerateResponse(BaseModel):
    model: str
    prompt: str
    text: str
    chars: list[GeneratedChar]
    elapsed: float = Field(description="seconds")
