"""The applications resource: language modelling on the user's text, forecasting, sentiment, word boundaries.

Training streams over a WebSocket like the visualizer's (``docs/http_api.md``): the first message is
the request; then ``start``, ``progress`` {step, loss, val, sample?}, ``done`` {result} or ``error``.
Sending ``{"type": "stop"}`` or closing the socket stops the training within a step; the model
trained so far is still returned.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, WebSocket
from starlette.requests import HTTPConnection

from ..managers.applications import ApplicationsManager
from ..schemas.applications import (
    ClassifyRequest,
    ForecastTrainRequest,
    LMGenerateRequest,
    LMTrainRequest,
    SegmentRequest,
)
from ..schemas.errors import ErrorResponse
from ..ws import receive_request, stream_job

router = APIRouter(prefix="/api/applications", tags=["applications"])
ERRORS = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}


def manager_of(conn: HTTPConnection) -> ApplicationsManager:
    """One manager per app, made on first use (kept on ``app.state``)."""
    state = conn.app.state
    if getattr(state, "applications", None) is None:
        state.applications = ApplicationsManager()
    return state.applications


@router.get("/options")
def options(conn: HTTPConnection) -> dict:
    """Datasets, cells, limits and defaults of the applications; whether the sentiment and segmenter models are installed."""
    return manager_of(conn).options()


@router.get("/lm/sample")
def sample(conn: HTTPConnection) -> dict:
    """A sample text to learn (the first 50,000 characters of Python's documentation topics)."""
    return manager_of(conn).sample_text()


@router.post("/lm/generate", responses=ERRORS)
def generate(req: LMGenerateRequest, conn: HTTPConnection) -> dict:
    """Continue a prompt with a language model trained in the page; the top-10 next tokens after the prompt."""
    return manager_of(conn).generate(req)


@router.post("/classify", responses=ERRORS)
def classify(req: ClassifyRequest, conn: HTTPConnection) -> dict:
    """The sentiment of a sentence and the class probabilities after each word."""
    return manager_of(conn).classify(req)


@router.post("/segment", responses=ERRORS)
def segment(req: SegmentRequest, conn: HTTPConnection) -> dict:
    """Sequence labelling: the text's whitespace taken out, P(a word begins here) for every character, the text
    re-segmented, and its accuracy against the spaces that were there."""
    return manager_of(conn).segment(req)


def _progress_message(record: dict) -> dict:
    return {"type": "progress", **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in record.items()}}


async def _stream_training(ws: WebSocket, schema, work: Callable) -> None:
    await ws.accept()
    req = await receive_request(ws, schema)
    if req is None:
        return
    await stream_job(ws, {"type": "start"}, lambda on_progress, should_stop: work(req, on_progress, should_stop),
                     _progress_message, "result")


@router.websocket("/lm/train")
async def train_lm(ws: WebSocket) -> None:
    """Train a character- or word-level language model on the pasted text (bounded, cancellable)."""
    await _stream_training(ws, LMTrainRequest, manager_of(ws).train_lm)


@router.websocket("/forecast/train")
async def train_forecast(ws: WebSocket) -> None:
    """Train a forecaster on a bundled series; the result compares it with the baselines on the test tail."""
    await _stream_training(ws, ForecastTrainRequest, manager_of(ws).train_forecast)
