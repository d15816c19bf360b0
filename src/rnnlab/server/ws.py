"""WebSocket plumbing shared by the streaming routes.

Protocol: the client's first message is the request (JSON, validated by the same schema as the
HTTP routes).  An invalid request gets ``{"type": "error", "status": 422, "message", "detail"}`` and
the socket is closed with code 4000 + status (4422, 4404, 4503).  While the server streams, the
client may send ``{"type": "stop"}``; closing the socket stops the work too.

``stream_job`` is the whole life of a streaming route after the request: the ``start`` message, the
work in a worker thread with its progress messages forwarded as they come, then ``done`` (with the
result and whether it was stopped) or ``error``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .errors import AppError, validation_body

FIRST_MESSAGE_TIMEOUT = 30.0  # seconds
MAX_MESSAGE_BYTES = 64 * 1024


async def send_json(ws: WebSocket, payload: dict) -> bool:
    """Send one JSON message; False when the client has gone."""
    if ws.application_state != WebSocketState.CONNECTED or ws.client_state != WebSocketState.CONNECTED:
        return False
    try:
        await ws.send_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
        return True
    except (WebSocketDisconnect, RuntimeError, OSError):
        return False
    except Exception as e:  # the server's ClientDisconnected and friends
        if type(e).__name__ in ("ClientDisconnected", "ConnectionClosed", "ConnectionClosedError",
                                "ConnectionClosedOK"):
            return False
        raise


async def close(ws: WebSocket, code: int = 1000) -> None:
    if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
        try:
            await ws.close(code)
        except Exception:
            pass


async def send_error(ws: WebSocket, status: int, message: str, detail=None) -> None:
    await send_json(ws, {"type": "error", "status": status, "message": message, "detail": detail or message})
    await close(ws, 4000 + status)


async def receive_request(ws: WebSocket, schema: type[BaseModel]) -> BaseModel | None:
    """The first message, validated; None after replying with an error and closing."""
    try:
        message = await asyncio.wait_for(ws.receive(), FIRST_MESSAGE_TIMEOUT)
    except asyncio.TimeoutError:
        await send_error(ws, 408, f"no request within {FIRST_MESSAGE_TIMEOUT:.0f} seconds")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", errors="replace")
    if text is None or len(text.encode("utf-8", errors="replace")) > MAX_MESSAGE_BYTES:
        await send_error(ws, 422, f"the request must be one JSON text message of at most {MAX_MESSAGE_BYTES} bytes")
        return None
    try:
        return schema.model_validate_json(text)
    except ValidationError as e:
        body = validation_body(e.errors())
        await send_error(ws, 422, body["message"], body["detail"])
        return None


async def report(ws: WebSocket, error: AppError) -> None:
    await send_error(ws, error.status, error.message, error.detail())


def watch_for_stop(ws: WebSocket, stop: threading.Event) -> asyncio.Task:
    """A task that sets `stop` when the client closes the socket or sends {"type": "stop"}."""

    async def watch() -> None:
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    if json.loads(message.get("text") or "{}").get("type") == "stop":
                        break
                except (ValueError, AttributeError):
                    continue
        except Exception:
            pass
        finally:
            stop.set()

    return asyncio.create_task(watch())


async def stream_job(ws: WebSocket, start: dict, work: Callable[[Callable[[Any], None], Callable[[], bool]], Any],
                     to_message: Callable[[Any], dict], result_key: str) -> None:
    """Send ``start``, run ``work(on_progress, should_stop)`` in a worker thread and forward every
    ``on_progress(item)`` as ``to_message(item)``; then ``{"type": "done", "stopped", result_key: ...}``
    or, for an ``AppError``, an error message.  The client leaving or sending stop sets ``should_stop``."""
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    queue: asyncio.Queue = asyncio.Queue()

    def on_progress(item) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, to_message(item))

    watcher = watch_for_stop(ws, stop)
    try:
        if not await send_json(ws, start):
            return
        job = asyncio.ensure_future(anyio.to_thread.run_sync(work, on_progress, stop.is_set))
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
        await send_json(ws, {"type": "done", "stopped": stop.is_set(), result_key: result})
        await close(ws)
    finally:
        stop.set()
        watcher.cancel()
