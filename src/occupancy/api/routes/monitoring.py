"""GET /monitoring/report: the latest monitoring report's page, as monitoring_dag made it.

The page is the report step's own HTML (occupancy.monitoring.report): inline SVG and an inline
stylesheet, no script, so its policy allows inline styles and nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from occupancy.api.monitoring_status import MonitoringWatcher

router = APIRouter(include_in_schema=False)
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
NO_REPORT = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No monitoring report'
    "</title></head><body><h1>No monitoring report yet</h1><p>Run <code>monitoring_dag</code> "
    "(or <code>occupancy step drift</code>, <code>performance</code> and <code>report</code>): "
    'its report appears here.</p><p><a href="/">Back to the prediction page</a></p></body>'
    "</html>"
)


@router.get("/monitoring/report")
async def monitoring_report(request: Request) -> HTMLResponse:
    """The served version's latest report (404 with a page saying how to make one when there is
    none). Only what the watcher holds: a request never waits on MLflow."""
    watcher: MonitoringWatcher = request.app.state.monitoring
    page = watcher.html
    status, body = (200, page) if page is not None else (404, NO_REPORT)
    return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": REPORT_CSP})
