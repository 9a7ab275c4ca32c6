"""The FastAPI application factory: state, routers, error handlers and middleware.

Routes live in `routes/`, one router per concern; the package docstring lists every module.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from occupancy.api.errors import install_error_handlers
from occupancy.api.holder import ModelHolder
from occupancy.api.metrics import ApiMetrics
from occupancy.api.middleware import RequestMiddleware, SecurityHeadersMiddleware
from occupancy.api.monitoring_status import MonitoringWatcher
from occupancy.api.predict_body import document_predict_body
from occupancy.api.prediction_log import PredictionLog
from occupancy.api.routes import ROUTERS
from occupancy.api.scoring_pool import ScoringPool
from occupancy.config import Settings
from occupancy.monitoring.window import prediction_log_lake

if TYPE_CHECKING:
    from occupancy.api.shutdown import DrainFlag

DESCRIPTION = (
    "Predicts the occupancy level (zero / low / mid / high) of short-term rental listings "
    "from Inside Airbnb fields, with the registered model alias it serves."
)


def create_app(
    settings: Settings,
    *,
    holder: ModelHolder | None = None,
    poll_seconds: float | None = None,
    drain: DrainFlag | None = None,
) -> FastAPI:
    """Build the app; the holder (a new one polling the registry, unless given) starts with it.

    Readiness fails once `drain` is set: by the server's signal handler, or by the supervisor of
    all workers when one flag is shared (`occupancy.api.shutdown`); by default the app's own.
    """
    holder = holder or ModelHolder(settings, poll_seconds=poll_seconds)
    metrics = ApiMetrics()
    holder.add_listener(metrics.record_check)
    holder.add_listener(_freeze_after_load)
    monitoring = MonitoringWatcher(settings, metrics)
    holder.add_listener(monitoring)
    app = FastAPI(
        title="occupancy prediction API", version="1", description=DESCRIPTION, lifespan=_lifespan
    )
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.monitoring = monitoring
    app.state.settings = settings
    app.state.drain = threading.Event() if drain is None else drain
    # Its threads start on first use; uvicorn has finished in-flight requests before exit.
    app.state.scoring_pool = ScoringPool()
    app.state.prediction_log = (
        PredictionLog(
            prediction_log_lake(settings),
            metrics,
            flush_seconds=settings.prediction_log_flush_seconds,
        )
        if settings.prediction_log
        else None
    )
    for router in ROUTERS:
        app.include_router(router)
    document_predict_body(app)
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware, metrics=metrics)  # type: ignore[arg-type]
    # Added last, so outermost: the 413s RequestMiddleware answers itself carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware)  # type: ignore[arg-type]
    return app


def _freeze_after_load(outcome: str, _: object) -> None:
    """After a model load, leave what is in memory out of the garbage collector's full passes.

    A full collection walks every tracked object with every thread stopped: with MLflow,
    scikit-learn and a model loaded, 440-550 ms measured on a busy 2-core machine, which a
    1,000-listing batch's garbage triggers and the probes then wait for. Frozen objects are still
    freed by reference counting; only cycles among them (a replaced model's) are kept.
    """
    if outcome == "loaded":
        gc.freeze()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Limit native thread pools, start the holder; on shutdown stop polling.

    Readiness is not failed here: uvicorn has closed every connection before this shutdown runs,
    and a drain flag shared by several workers must not be set by one worker that stops alone.
    """
    # Thread-pool start-up inside the tree ensemble cost more than the prediction itself for
    # one listing; requests run concurrently on their own, so one BLAS/OpenMP thread each (the
    # scoring threads limit themselves too: OpenMP's setting is per thread).
    threadpool_limits(limits=1)
    pa.set_cpu_count(1)  # Arrow's thread pool only adds hand-offs for request-sized arrays
    holder: ModelHolder = app.state.holder
    prediction_log: PredictionLog | None = app.state.prediction_log
    holder.start()
    if prediction_log is not None:
        prediction_log.start()
    yield
    holder.stop()
    if prediction_log is not None:
        prediction_log.stop()  # in-flight requests are done: everything they logged is written
