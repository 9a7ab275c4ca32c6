"""GET /metrics: the app's Prometheus registry in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from occupancy.api.dependencies import MetricsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def prometheus(metrics: MetricsDep) -> Response:
    """Requests, latency, predictions by level, the served version and reload outcomes."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
