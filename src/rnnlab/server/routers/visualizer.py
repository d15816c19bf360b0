"""The visualizer resource: options, a traced sequence, and training in the page (WebSocket)."""

from __future__ import annotations

import asyncio
import threading

import anyio
from fastapi import APIRouter, WebSocket

from ..deps import VisualizerDep
from ..errors import AppError
from ..schemas.errors import ErrorResponse
from ..schemas.visualizer import OptionsResponse, TraceRequest, TraceResponse, TrainRequest
from ..ws import close, receive_request, report, send_json, watch_for_stop

router = APIRouter(prefix="/api/visualizer", tags=["visualizer"])
ERRORS = {404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.get("/options", response_model=OptionsResponse)
def options(manager: VisualizerDep) -> dict:
    """Cells, activations, initializations, sequence types with their examples, and input limits."""
    return manager.options()


@router.post("/trace", response_model=TraceResponse, responses=ERRORS)
def trace(req: TraceRequest, manager: VisualizerDep) -> dict:
    """Run the network over the sequence: every hidden state, gate, prediction and dL/dh_t."""
    return manager.trace(req)


@router.websocket("/train")
async def train(ws: WebSocket, manager: VisualizerDep) -> None:
    """Train on the chosen sequence for a few seconds, streaming the loss; see docs/http_api.md.

    Messages: start {figure}, progress {step, loss, elapsed}, done {trace}, error {status, message}.
    """
    await ws.accept()
    req = await receive_request(ws, TrainRequest)
    if req is None:
        return
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    queue: asyncio.Queue = asyncio.Queue()

    def on_progress(p) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, {"type": "progress", "step": p.step, "loss": p.loss,
                                                     "elapsed": round(p.elapsed, 3)})

    watcher = watch_for_stop(ws, stop)
    try:
        if not await send_json(ws, {"type": "start", "figure": manager.loss_figure(), "seconds": req.seconds}):
            return
        job = asyncio.ensure_future(anyio.to_thread.run_sync(manager.train, req, on_progress, stop.is_set))
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
        await send_json(ws, {"type": "done", "stopped": stop.is_set(), "trace": result})
        await close(ws)
    finally:
        stop.set()
        watcher.cancel()
