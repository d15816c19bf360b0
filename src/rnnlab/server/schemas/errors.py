"""Error replies: FastAPI's 422 body plus one readable ``message`` line naming field and range."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """422 (invalid input), 404 (unknown id), 409 (conflict), 503 (busy)."""

    detail: list[ErrorItem] | str
    message: str
