"""The server's errors and their JSON replies.

Every error body is ``{"detail": ..., "message": "one readable line"}``.  Invalid input is 422 and
its message names the field and its allowed range, e.g.
``network.hidden_size must be between 2 and 64 (got 1000)``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .schemas.limits import RANGES


class AppError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.reason, self.field = message, field
        self.message = message if field is None else f"{field}: {message}"  # one line naming the field

    def detail(self) -> list[dict] | str:
        if self.field is None:
            return self.message
        return [{"loc": ["body", *self.field.split(".")], "msg": self.reason, "type": "value_error"}]


class InvalidInput(AppError):
    status = 422


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Busy(AppError):
    status = 503


RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_long", "string_too_long"}


def describe_error(err: dict) -> str:
    """One pydantic error -> 'field must be between lo and hi (got x)' or 'field: message'."""
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or "request"
    key = ".".join(loc[-2:]) if ".".join(loc[-2:]) in RANGES else (loc[-1] if loc else "")
    got = err.get("input")
    if err.get("type") in RANGE_ERRORS and key in RANGES:
        lo, hi = RANGES[key]
        if err["type"] in ("too_long", "string_too_long"):
            return f"{field} must be at most {hi} characters (got {len(got) if hasattr(got, '__len__') else '?'})"
        shown = repr(got)
        return f"{field} must be between {lo} and {hi} (got {shown[:40]}{'...' if len(shown) > 40 else ''})"
    msg = err.get("msg", "is invalid")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return f"{field}: {msg}"


def validation_message(errors: list[dict]) -> str:
    return "; ".join(describe_error(e) for e in errors[:5]) + (" ..." if len(errors) > 5 else "")


def validation_body(errors: list[dict]) -> dict:
    detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in errors]
    return {"detail": jsonable_encoder(detail), "message": validation_message(errors)}


BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400 for a body it cannot decode


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and exc.detail == BODY_PARSE_ERROR:
            # not UTF-8, or JSON nested too deep to decode: invalid input like any other, so 422
            detail = [{"loc": ["body"], "msg": "the body is not valid JSON text (UTF-8)", "type": "json_invalid"}]
            return JSONResponse({"detail": detail, "message": "body: not valid JSON text (UTF-8)"}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse(validation_body(list(exc.errors())), status_code=422)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return JSONResponse({"detail": exc.detail(), "message": exc.message}, status_code=exc.status)
