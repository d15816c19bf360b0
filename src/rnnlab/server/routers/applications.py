"""The applications resource: language modelling on the user's text, forecasting, sentiment.

Training streams over a WebSocket like the visualizer's (``docs/http_api.md``): the first message is
the request; then ``start``, ``progress`` {step, loss, val, sample?}, ``done`` {result} or ``error``.
Sending ``{"type": "stop"}`` or closing the socket stops the training within a step; the model
trained so far is still returned.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import anyio
from fastapi import APIRouter, WebSocket
from starlette.requests import HTTPConnection

from ..errors import AppError
from ..managers.applications import ApplicationsManager
from ..schemas.applications import ClassifyRequest, ForecastTrainRequest, LMGenerateRequest, LMTrainRequest
from ..schemas.errors import ErrorResponse
from ..ws import close, receive_request, report, send_json, watch_for_stop

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
    """Datasets, cells, limits and defaults of the three applications; whether a sentiment model is installed."""
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


async def _stream_training(ws: WebSocket, schema, work: Callable) -> None:
    await ws.accept()
    req = await receive_request(ws, schema)
    if req is None:
        return
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    queue: asyncio.Queue = asyncio.Queue()

    def on_progress(record: dict) -> None:
        message = {"type": "progress", **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in record.items()}}
        loop.call_soon_threadsafe(queue.put_nowait, message)

    watcher = watch_for_stop(ws, stop)
    try:
        if not await send_json(ws, {"type": "start"}):
            return
        job = asyncio.ensure_future(anyio.to_thread.run_sync(work, req, on_progress, stop.is_set))
        while not job.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({job, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                if not await send_json(ws, getter.result()):
                    stop.set()
            else:
                getter.cancel()
        while not queue.empty():
            await send_json(ws, queue.get_nowait())
        try:
            result = job.result()
        except AppError as e:
            await report(ws, e)
            return
        await send_json(ws, {"type": "done", "stopped": stop.is_set(), "result": result})
        await close(ws)
    finally:
        stop.set()
        watcher.cancel()


@router.websocket("/lm/train")
async def train_lm(ws: WebSocket) -> None:
    """Train a character- or word-level language model on the pasted text (bounded, cancellable)."""
    await _stream_training(ws, LMTrainRequest, manager_of(ws).train_lm)


@router.websocket("/forecast/train")
async def train_forecast(ws: WebSocket) -> None:
    """Train a forecaster on a bundled series; the result compares it with the baselines on the test tail."""
    await _stream_training(ws, ForecastTrainRequest, manager_of(ws).train_forecast)
