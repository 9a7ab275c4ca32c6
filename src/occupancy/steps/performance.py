"""Step performance: the champion's live accuracy, when a newer scrape of its city arrives.

Joins the champion's logged predictions over the window (default: the 120 days before `until`,
about one Inside Airbnb scrape interval) with the new scrape's binned `estimated_occupancy_l365d`
by listing id, and writes macro-F1, per-class F1, the confusion matrix and the matched count to
`<lake>/monitoring/runs/<run id>/performance.json`. Without a scrape (a daily run) it records
that nothing was measured, so the report step always finds its input.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from occupancy.config import Settings
from occupancy.lake import Lake
from occupancy.monitoring.layout import PERFORMANCE, monitoring_key, without_nan
from occupancy.monitoring.performance import live_performance, read_truth
from occupancy.monitoring.window import prediction_log_lake, read_window, window_dates
from occupancy.registry import Registry
from occupancy.steps.drift import monitored_champion, window_end

log = logging.getLogger(__name__)


def run_performance(
    settings: Settings,
    *,
    run_id: str,
    truth_uri: str | None,
    days: int = 120,
    until: str | None = None,
) -> dict[str, Any]:
    """Score the champion's logged predictions against the scrape at `truth_uri`."""
    end = window_end(days, until)
    key = monitoring_key(run_id, PERFORMANCE)
    lake = Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url)
    if not truth_uri:
        lake.write_json(key, {"measured": False, "reason": "no new scrape was given"})
        log.info("performance: no new scrape given (--truth): live performance not measured")
        return {"step": "performance", "run_id": run_id, "measured": False}
    champion = monitored_champion(Registry(settings), settings)
    version = str(champion.version)
    truth = read_truth(truth_uri, endpoint_url=settings.s3_endpoint_url)
    dates = window_dates(end, days)
    predictions = read_window(prediction_log_lake(settings), dates, version)
    if predictions.empty:
        predictions = predictions.reindex(columns=["id", "logged_at", "occupancy_level"])
    result = live_performance(predictions, truth)
    report = {
        "measured": True,
        "truth": truth_uri,
        "model": {"name": settings.model_name, "version": version},
        "window": {"from": dates[0].isoformat(), "to": dates[-1].isoformat()},
        **dataclasses.asdict(result),
    }
    lake.write_json(key, without_nan(report))
    log.info(
        "performance: %d of %d predicted listings matched in %s; live macro-F1 %.3f",
        result.matched,
        result.predicted_listings,
        truth_uri,
        result.macro_f1,
    )
    return {
        "step": "performance",
        "run_id": run_id,
        "measured": True,
        "model_version": version,
        "matched": result.matched,
        "macro_f1": round(result.macro_f1, 4) if result.matched else None,
        "report": lake.uri(key),
    }
