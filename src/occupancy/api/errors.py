"""The one table from errors to HTTP answers: a user's mistake is a 4xx naming the field, a
missing model is 503, and nothing a client sends produces a 500.

    RequestValidationError  422  the body breaks the schema (an unknown field names its closest column)
    ModelInputError         422  a listing's value breaks the ingest contract
    NotReadyError           503  Retry-After: 5
    UnauthorizedError       401  WWW-Authenticate: Bearer
    ReloadDisabledError     403

Every body is `{"detail": ...}` (`schemas.ErrorResponse`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from occupancy.api.schemas import ErrorResponse, closest_column
from occupancy.errors import (
    ModelInputError,
    NotReadyError,
    ReloadDisabledError,
    UnauthorizedError,
)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's errors as loc/msg/type, with an unknown field's likely intended column."""
    details = []
    for error in exc.errors():
        loc = [str(p) if not isinstance(p, int) else p for p in error.get("loc", ())]
        msg = str(error.get("msg", "invalid value"))
        if error.get("type") == "extra_forbidden" and loc and isinstance(loc[-1], str):
            guess = closest_column(loc[-1])
            msg = f"'{loc[-1]}' is not an Inside Airbnb column" + (
                f"; did you mean '{guess}'?" if guess else ""
            )
        details.append({"loc": loc, "msg": msg, "type": str(error.get("type", "value_error"))})
    return details


def _input_details(exc: ModelInputError) -> list[dict[str, object]]:
    return exc.details


def _not_ready(exc: NotReadyError) -> str:
    return f"not ready: {exc}"


@dataclass(frozen=True)
class HttpAnswer:
    """How one error class is answered: status, extra headers and the `detail` of the body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    detail: Callable[[Any], object] = str  # takes the error of the class it is listed under


ERROR_ANSWERS: Mapping[type[Exception], HttpAnswer] = {
    RequestValidationError: HttpAnswer(422, detail=_validation_details),
    ModelInputError: HttpAnswer(422, detail=_input_details),
    NotReadyError: HttpAnswer(503, {"Retry-After": "5"}, detail=_not_ready),
    UnauthorizedError: HttpAnswer(401, {"WWW-Authenticate": "Bearer"}),
    ReloadDisabledError: HttpAnswer(403),
}

# OpenAPI `responses` for routes that may answer these statuses.
NOT_READY_OR_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}
ADMIN_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {"model": ErrorResponse}}


def error_response(exc: Exception) -> JSONResponse:
    """The answer ERROR_ANSWERS gives `exc` (looked up by its class, then its bases)."""
    answer = next(ERROR_ANSWERS[cls] for cls in type(exc).__mro__ if cls in ERROR_ANSWERS)
    return JSONResponse(
        status_code=answer.status,
        content={"detail": answer.detail(exc)},
        headers=dict(answer.headers),
    )


async def _handle(_: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error class of ERROR_ANSWERS through the table."""
    for error_class in ERROR_ANSWERS:
        app.add_exception_handler(error_class, _handle)
