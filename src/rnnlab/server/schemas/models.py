"""Schemas of the models resource (``/api/models``): the char-LMs the page generates with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .limits import PROMPT_MAX_CHARS, TEMPERATURE_MAX, TEMPERATURE_MIN, bounded, limited_text

MODEL_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class ModelInfo(BaseModel):
    id: str
    name: str
    source: str = Field(description="bundled | command line | models directory")
    available: bool
    error: str | None = None
    cell: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None
    vocab: list[str] | None = None
    meta: dict[str, Any] = Field(default_factory=dict, description="training metadata saved with the checkpoint")


class ModelList(BaseModel):
    models: list[ModelInfo]
    default: str | None = Field(description="the id the page selects first; null when no model is available")
    message: str | None = Field(None, description="why no model is available, if so")


class DistributionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    prompt: str = limited_text("prompt", PROMPT_MAX_CHARS, "", "text read before the distribution is taken")
    temperature: float = bounded("temperature", TEMPERATURE_MIN, TEMPERATURE_MAX, 1.0, "softmax temperature")


class DistributionResponse(BaseModel):
    top: list[tuple[str, float]] = Field(description="the 10 most likely next characters and their probabilities")
    entropy: float = Field(description="entropy of the whole distribution at this temperature, bits")
    max_entropy: float = Field(description="log2 V, the entropy of the uniform distribution")
    temperatures: list[float]
    entropy_curve: list[float] = Field(description="entropy (bits) at each of `temperatures`")
    figures: dict[str, Any] = Field(description="Plotly specs: distribution, entropy")
