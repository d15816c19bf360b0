"""Request schemas of the applications resource (``/api/applications``): the page's section 6.

Field names are distinct from the other resources' (``units``, ``train_seconds``, ``corpus_text``)
so that every 422 message names this resource's own range.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ...data.timeseries import DATASETS
from ...tasks.labelling import SEGMENT_MAX_CHARS
from .limits import PROMPT_MAX_CHARS, SEED_MAX, TEMPERATURE_MAX, TEMPERATURE_MIN, bounded, limited_text

Strict = ConfigDict(extra="forbid", allow_inf_nan=False)

LM_TEXT_MIN_CHARS, LM_TEXT_MAX_CHARS = 200, 50_000  # one WebSocket message carries the text (64 KiB)
UNITS_MIN, UNITS_MAX = 4, 128
TRAIN_SECONDS_MIN, TRAIN_SECONDS_MAX = 1.0, 60.0
FORECAST_STEPS_MIN, FORECAST_STEPS_MAX = 20, 2000
GENERATE_TOKENS_MAX = 400
SENTENCE_MAX_CHARS = 1000
DATASET_NAMES = tuple(DATASETS)


class LMTrainRequest(BaseModel):
    """First message of ``/api/applications/lm/train``: a language model on the user's text."""

    model_config = Strict
    corpus_text: str = limited_text("corpus_text", LM_TEXT_MAX_CHARS, "", "the text to learn (the last 10% validates)")
    level: Literal["char", "word"] = Field("char", description="tokens: characters or words")
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    units: int = bounded("units", UNITS_MIN, UNITS_MAX, 64, "hidden units H")
    train_seconds: float = bounded("train_seconds", TRAIN_SECONDS_MIN, TRAIN_SECONDS_MAX, 20.0, "training time")
    seed: int = bounded("seed", 0, SEED_MAX, 0, "random seed")


class LMGenerateRequest(BaseModel):
    model_config = Strict
    model_id: str = Field(..., min_length=1, max_length=64, description="from the training's done message")
    prompt: str = limited_text("prompt", PROMPT_MAX_CHARS, "", "text to continue")
    tokens: int = bounded("tokens", 1, GENERATE_TOKENS_MAX, 200, "characters or words to generate")
    temperature: float = bounded("temperature", TEMPERATURE_MIN, TEMPERATURE_MAX, 0.8, "sampling temperature")
    seed: int = bounded("seed", 0, SEED_MAX, 0, "random seed")


class ForecastTrainRequest(BaseModel):
    """First message of ``/api/applications/forecast/train``."""

    model_config = Strict
    dataset: Literal[DATASET_NAMES] = Field("sunspots", description="a bundled series")  # type: ignore[valid-type]
    cell: Literal["rnn", "lstm", "gru"] = "gru"
    units: int = bounded("units", UNITS_MIN, UNITS_MAX, 32, "hidden units H")
    max_steps: int = bounded("max_steps", FORECAST_STEPS_MIN, FORECAST_STEPS_MAX, 600, "training steps at most")
    train_seconds: float = bounded("train_seconds", TRAIN_SECONDS_MIN, TRAIN_SECONDS_MAX, 20.0, "training time")
    seed: int = bounded("seed", 0, SEED_MAX, 0, "random seed")


class ClassifyRequest(BaseModel):
    model_config = Strict
    sentence: str = limited_text("sentence", SENTENCE_MAX_CHARS, "", "a review sentence")


class SegmentRequest(BaseModel):
    """Sequence labelling: the text's whitespace is taken out and the network tags where words begin."""

    model_config = Strict
    text: str = limited_text("text", SEGMENT_MAX_CHARS, "", "a text with spaces (they are taken out, then put back)")
