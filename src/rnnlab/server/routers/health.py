"""GET /api/health: the server is up, and which version it runs."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ... import __version__
from ..deps import ModelsDep

router = APIRouter(prefix="/api", tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    models_available: int


@router.get("/health", response_model=Health)
def health(models: ModelsDep) -> dict:
    """The server is up: its rnnlab version and how many models it has loaded."""
    available = sum(1 for e in models.entries.values() if e.model is not None)
    return {"status": "ok", "version": __version__, "models_available": available}
