"""The gradients resource: ||dL/dh_t|| across time for RNN, LSTM and GRU, and a gradient check."""

from __future__ import annotations

from fastapi import APIRouter

from ..managers import gradients as manager
from ..schemas.errors import ErrorResponse
from ..schemas.gradients import CheckRequest, CheckResponse, GradientControls, GradientOptions, NormsResponse

router = APIRouter(prefix="/api/gradients", tags=["gradients"])
ERRORS = {422: {"model": ErrorResponse}}


@router.get("/options", response_model=GradientOptions)
def options() -> dict:
    """The cells, the controls' limits and defaults, and the gradient check's size limits."""
    return manager.options()


@router.post("/norms", response_model=NormsResponse, responses=ERRORS)
def norms(controls: GradientControls) -> dict:
    """The three cells on the same input: ||dL/dh_t||, with clipping, and the numbers behind them."""
    return manager.norms(controls)


@router.post("/check", response_model=CheckResponse, responses=ERRORS)
def check(req: CheckRequest) -> dict:
    """Hand-written BPTT against finite differences on the current small model, with relative errors."""
    return manager.check(req)
