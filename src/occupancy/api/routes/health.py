"""Liveness (the process is up) and readiness (a model is loaded and the server is not draining)."""

from __future__ import annotations

from fastapi import APIRouter

from occupancy.api.dependencies import DrainingDep, HolderDep, served_model
from occupancy.api.errors import NOT_READY_OR_INVALID
from occupancy.errors import NotReadyError

router = APIRouter(prefix="/health", tags=["health"])


# `async def`: answered on the event loop itself, which scoring never holds (`scoring_pool`).
@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready", responses=NOT_READY_OR_INVALID)
async def ready(holder: HolderDep, draining: DrainingDep) -> dict[str, str]:
    """A model is loaded and the server is not shutting down."""
    if draining:
        raise NotReadyError("shutting down")
    served = served_model(holder)
    return {"status": "ready", "model": served.name, "version": served.version}
