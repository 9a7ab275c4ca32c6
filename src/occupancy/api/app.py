"""The FastAPI application: routes, error mapping, request logging and limits.

Errors map to HTTP in one place (`_install_error_handlers`): a user's mistake is a 4xx naming
the field, a missing model is 503, and nothing a client sends produces a 500.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from occupancy.api.holder import FAST_PATH_MAX_ROWS, ModelHolder, ServedModel
from occupancy.api.metrics import ApiMetrics
from occupancy.api.schemas import (
    ErrorResponse,
    ModelInfo,
    ModelRef,
    Prediction,
    PredictRequest,
    PredictResponse,
    closest_column,
)
from occupancy.config import Settings
from occupancy.data.parsing import records_to_raw_strings
from occupancy.data.rows import first_problem, raw_listing
from occupancy.data.schema import CLASSES, FEATURE_SOURCE_COLUMNS, HOST_ID_COLUMN, ID_COLUMN
from occupancy.data.validate import validate_rows
from occupancy.errors import ModelInputError

MAX_BODY_BYTES = 16 * 1024 * 1024  # 1,000 full CSV rows with long descriptions fit
log = logging.getLogger("occupancy.api")
_CHECKED_COLUMNS = (ID_COLUMN, HOST_ID_COLUMN, *FEATURE_SOURCE_COLUMNS)
_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


class NotReadyError(Exception):
    """No model is loaded yet."""


def _holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


HolderDep = Annotated[ModelHolder, Depends(_holder)]


def create_app(
    settings: Settings, *, holder: ModelHolder | None = None, poll_seconds: float = 30.0
) -> FastAPI:
    """Build the app; the holder starts polling when the app starts."""
    metrics = ApiMetrics()

    def on_reload(outcome: str) -> None:
        metrics.reloads.labels(outcome).inc()
        if holder_ref.current is not None:
            metrics.serving(holder_ref.current.name, holder_ref.current.version)

    holder_ref = holder or ModelHolder(settings, poll_seconds=poll_seconds, on_reload=on_reload)
    if holder is not None:
        holder._on_reload = on_reload

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from threadpoolctl import threadpool_limits

        # Thread-pool start-up inside the tree ensemble cost more than the prediction itself for
        # one listing; requests run concurrently on their own, so one BLAS/OpenMP thread each.
        threadpool_limits(limits=1)
        import pyarrow as pa

        pa.set_cpu_count(1)  # Arrow's thread pool only adds hand-offs for request-sized arrays
        app.state.draining = False
        holder_ref.start()
        yield
        app.state.draining = True  # readiness fails first; uvicorn then drains in-flight requests
        holder_ref.stop()

    app = FastAPI(
        title="occupancy prediction API",
        version="1",
        description="Predicts the occupancy level (zero / low / mid / high) of short-term rental listings "
        "from Inside Airbnb fields, with the registered model alias it serves.",
        lifespan=lifespan,
    )
    app.state.holder = holder_ref
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.draining = False
    _install_error_handlers(app)

    @app.get("/health/live", tags=["health"])
    def live() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], responses=_ERRORS)
    def ready(holder: HolderDep, request: Request) -> dict[str, str]:
        """A model is loaded and the server is not shutting down."""
        if request.app.state.draining:
            raise NotReadyError("shutting down")
        served = _served(holder)
        return {"status": "ready", "model": served.name, "version": served.version}

    @app.get("/model", tags=["model"], response_model=ModelInfo)
    def model_info(holder: HolderDep) -> ModelInfo:
        """The served model and the reloader's last check and error."""
        served = holder.current
        return ModelInfo(
            name=settings.model_name,
            alias=settings.model_alias,
            version=served.version if served else None,
            run_id=served.run_id if served else None,
            trained_at=served.trained_at if served else None,
            loaded_at=served.loaded_at if served else None,
            metrics=served.metrics if served else {},
            fast_path=served is not None and served.fast is not None,
            last_check_at=holder.last_check_at,
            last_error=holder.last_error,
        )

    @app.post(
        "/model/reload",
        tags=["model"],
        response_model=ModelInfo,
        responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
    )
    def reload(
        holder: HolderDep, authorization: Annotated[str | None, Header()] = None
    ) -> ModelInfo:
        """Check the alias now (bearer token from OCCUPANCY_API_TOKEN)."""
        _require_token(settings, authorization)
        holder.refresh()
        return model_info(holder)

    @app.post(
        "/predict",
        tags=["predict"],
        response_model=PredictResponse,
        responses={**_ERRORS, 413: {"model": ErrorResponse}},
    )
    async def predict(body: PredictRequest, holder: HolderDep) -> PredictResponse:
        """Occupancy level and class probabilities for each listing, in request order."""
        # Scored on the event loop, not a worker thread: the work is CPU-bound, and dozens of
        # threads contending for the GIL were measured to cut throughput at 16 connections.
        served = _served(holder)
        listings = [listing.model_dump(exclude_none=True) for listing in body.listings]  # type: ignore[attr-defined]
        proba = _score(served, listings)
        levels = np.asarray(CLASSES, dtype=object)[proba.argmax(axis=1)]
        for level in levels:
            metrics.predictions.labels(level).inc()
        predictions = [
            Prediction(
                id=None if listing.get(ID_COLUMN) is None else str(listing[ID_COLUMN]),
                occupancy_level=str(level),
                probabilities=dict(zip(CLASSES, map(float, row), strict=True)),
            )
            for listing, level, row in zip(listings, levels, proba, strict=True)
        ]
        return PredictResponse(
            model=ModelRef(name=served.name, version=served.version), predictions=predictions
        )

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(_RequestMiddleware, metrics=metrics)  # type: ignore[arg-type]
    return app


def _served(holder: ModelHolder) -> ServedModel:
    served = holder.current  # read the reference once: one request, one model version
    if served is None:
        raise NotReadyError(holder.last_error or "no model loaded yet")
    return served


def _score(served: ServedModel, listings: list[dict[str, Any]]) -> np.ndarray:
    """Validate values with the ingest contract, clean, and predict probabilities."""
    raws = [raw_listing(listing) for listing in listings]
    problems: list[tuple[int, str, str]]
    if len(raws) <= FAST_PATH_MAX_ROWS:  # row at a time: Arrow's per-kernel cost dominates here
        problems = [
            (row, *problem)
            for row, raw in enumerate(raws)
            if (problem := first_problem(raw, _CHECKED_COLUMNS)) is not None
        ]
    else:
        verdict = validate_rows(records_to_raw_strings(raws), _CHECKED_COLUMNS, required=())
        problems = list(
            zip(np.flatnonzero(verdict.bad).tolist(), verdict.columns, verdict.reasons, strict=True)
        )
    if problems:
        details: list[dict[str, object]] = [
            {
                "loc": ["body", "listings", row, column],
                "msg": reason.split(": ", 1)[-1],
                "type": "value_error",
            }
            for row, column, reason in problems
        ]
        raise ModelInputError(f"{len(problems)} invalid listing(s)", details)
    return served.predict_raw(raws)


def _require_token(settings: Settings, authorization: str | None) -> None:
    if settings.api_token is None:
        raise PermissionError("model reload is disabled: set OCCUPANCY_API_TOKEN to enable it")
    expected = f"Bearer {settings.api_token.get_secret_value()}"
    import hmac

    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise UnauthorizedError("a valid 'Authorization: Bearer <token>' header is required")


class UnauthorizedError(Exception):
    """The reload token is missing or wrong."""


def _install_error_handlers(app: FastAPI) -> None:
    """The one place where errors become HTTP statuses."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
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
        return JSONResponse(status_code=422, content={"detail": details})

    @app.exception_handler(ModelInputError)
    async def bad_values(_: Request, exc: ModelInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.details})

    @app.exception_handler(NotReadyError)
    async def not_ready(_: Request, exc: NotReadyError) -> JSONResponse:
        return JSONResponse(
            status_code=503, content={"detail": f"not ready: {exc}"}, headers={"Retry-After": "5"}
        )

    @app.exception_handler(UnauthorizedError)
    async def unauthorized(_: Request, exc: UnauthorizedError) -> JSONResponse:
        return JSONResponse(
            status_code=401, content={"detail": str(exc)}, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(PermissionError)
    async def forbidden(_: Request, exc: PermissionError) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})


class _RequestMiddleware:
    """Pure ASGI middleware: request id, body-size limit, metrics and one JSON log line each."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        status = 500
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            response = JSONResponse(
                status_code=413, content={"detail": f"request body over {MAX_BODY_BYTES} bytes"}
            )
            status = 413
            await response(scope, receive, send)
            self._record(scope, status, started, request_id)
            return

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (b"x-request-id", request_id.encode("latin-1"))
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, started, request_id)

    def _record(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        seconds = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(scope["method"], route, str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                }
            )
        )


def configure_logging() -> None:
    """JSON-ish access lines on stderr (the message itself is JSON)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
