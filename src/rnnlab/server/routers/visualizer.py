"""The visualizer resource: options, a traced sequence, and training in the page (WebSocket)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ..deps import VisualizerDep
from ..schemas.errors import ErrorResponse
from ..schemas.visualizer import OptionsResponse, TraceRequest, TraceResponse, TrainRequest
from ..ws import receive_request, stream_job

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

    def progress_message(p) -> dict:
        return {"type": "progress", "step": p.step, "loss": p.loss, "elapsed": round(p.elapsed, 3)}

    start = {"type": "start", "figure": manager.loss_figure(), "seconds": req.seconds}
    await stream_job(ws, start, lambda on_progress, should_stop: manager.train(req, on_progress, should_stop),
                     progress_message, "trace")
