"""The API's routes, one router per concern, included by `create_app` in this order.

    health   GET /health/live, GET /health/ready
    model    GET /model, POST /model/reload (admin token)
    predict  POST /predict
    metrics  GET /metrics (Prometheus)
    page     GET / and POST / (the prediction page for people), GET /static/{name}
    monitoring  GET /monitoring/report (the latest monitoring report)

Routes read what they need through `occupancy.api.dependencies`, never from module globals.
"""

from __future__ import annotations

from fastapi import APIRouter

from occupancy.api.routes import health, metrics, model, monitoring, page, predict

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    model.router,
    predict.router,
    metrics.router,
    page.router,
    monitoring.router,
)
