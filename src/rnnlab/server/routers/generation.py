"""The generation resource: a whole text (POST) or a character stream (WebSocket)."""

from __future__ import annotations

import threading

import anyio
from fastapi import APIRouter, WebSocket

from ..deps import GenerationDep
from ..errors import AppError
from ..schemas.errors import ErrorResponse
from ..schemas.generation import GenerateRequest, GenerateResponse
from ..ws import close, receive_request, report, send_json, watch_for_stop

router = APIRouter(prefix="/api/generate", tags=["generation"])
ERRORS = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.post("", response_model=GenerateResponse, responses=ERRORS)
def generate(req: GenerateRequest, generation: GenerationDep) -> dict:
    """Generate `length` characters after the prompt; each with its probability, surprisal, entropy."""
    return generation.generate(req)


@router.websocket("/stream")
async def stream(ws: WebSocket, generation: GenerationDep) -> None:
    """Stream a generation character by character; see docs/http_api.md for the messages.

    Stops when the client sends {"type": "stop"} or goes away, and after the time limit.
    """
    await ws.accept()
    req = await receive_request(ws, GenerateRequest)
    if req is None:
        return
    try:
        session = await anyio.to_thread.run_sync(generation.open, req)
    except AppError as e:
        await report(ws, e)
        return
    stop = threading.Event()
    watcher = watch_for_stop(ws, stop)
    try:
        if not await send_json(ws, session.start_message()):
            return
        while not stop.is_set():
            chunk = await anyio.to_thread.run_sync(session.take)
            if not chunk:
                break
            if not await send_json(ws, {"type": "steps", "steps": chunk}):
                return
        await send_json(ws, session.done_message(stopped=stop.is_set() and not session.finished))
        await close(ws)
    finally:
        stop.set()
        watcher.cancel()
        session.close()
