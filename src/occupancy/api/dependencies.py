"""What a route may ask for, read from the app's state (set once by `create_app`).

    HolderDep    the model holder (current model, last check, reload)
    SettingsDep  the settings the app was built with (never re-read from the environment here)
    MetricsDep   the app's Prometheus metrics
    DrainingDep  True once shutdown has begun (readiness fails first; the app's drain flag)
    ScoringPoolDep  the threads where /predict is scored, off the event loop

All are `async def`: FastAPI would run a plain `def` in its thread pool, a hop per dependency
that a probe would then wait for behind the scoring threads' hold on the GIL.

Tests build the app with `create_app(settings, holder=fake)`: nothing here reaches MLflow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from occupancy.api.holder import ModelHolder, ServedModel
from occupancy.api.metrics import ApiMetrics
from occupancy.api.scoring_pool import ScoringPool
from occupancy.config import Settings
from occupancy.errors import NotReadyError


async def app_holder(request: Request) -> ModelHolder:
    """The app's model holder."""
    holder: ModelHolder = request.app.state.holder
    return holder


async def app_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def app_metrics(request: Request) -> ApiMetrics:
    """The app's metrics."""
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


async def app_draining(request: Request) -> bool:
    """Whether the server is draining before shutdown (its drain flag is set)."""
    return bool(request.app.state.drain.is_set())


async def app_scoring_pool(request: Request) -> ScoringPool:
    """The app's scoring threads (started with the app)."""
    pool: ScoringPool = request.app.state.scoring_pool
    return pool


HolderDep = Annotated[ModelHolder, Depends(app_holder)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
MetricsDep = Annotated[ApiMetrics, Depends(app_metrics)]
DrainingDep = Annotated[bool, Depends(app_draining)]
ScoringPoolDep = Annotated[ScoringPool, Depends(app_scoring_pool)]


def served_model(holder: ModelHolder) -> ServedModel:
    """The model serving now, read once (one request, one version); NotReadyError if none.

    Called in the route body, not as a dependency: a malformed request stays a 422 with or
    without a model, as FastAPI validates the body only after dependencies have run.
    """
    served = holder.current
    if served is None:
        raise NotReadyError(holder.last_error or "no model loaded yet")
    return served
