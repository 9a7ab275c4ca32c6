"""Step drift: the champion's input drift over the last days of the prediction log.

Reads the champion's reference profile (logged with it at training), the prediction log's rows
of that version over the window, and writes the drift of every feature and of the predicted
levels to `<lake>/monitoring/drift/<date>-v<version>.json` (largest PSI first). The first step
of `monitoring_dag` (issue 16); runnable alone as `occupancy step drift`.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime
from typing import Any

from occupancy.config import Settings
from occupancy.data.clean import MODEL_INPUT_COLUMNS
from occupancy.errors import ConfigError, DataError, NotFoundError
from occupancy.lake import Lake
from occupancy.monitoring.drift import input_drift, prediction_drift
from occupancy.monitoring.profile import FILE_NAME, check_profile
from occupancy.monitoring.window import read_window, window_dates
from occupancy.registry import Registry

log = logging.getLogger(__name__)
SHOWN = 5


def run_drift(settings: Settings, *, days: int = 7, until: str | None = None) -> dict[str, Any]:
    """Measure and record the champion's drift over the `days` ending `until` (default today)."""
    if days < 1:
        raise ConfigError(f"--days must be 1 or more, got {days}")
    end = _day(until) if until else datetime.now(UTC).date()
    registry = Registry(settings)
    champion = registry.champion()
    if champion is None:
        raise NotFoundError(
            f"no model at models:/{settings.model_name}@{settings.model_alias}: nothing to monitor"
        )
    profile = registry.run_artifact_json(champion.run_id, FILE_NAME)
    source = f"{FILE_NAME} of {settings.model_name} v{champion.version}"
    if profile is None:
        raise NotFoundError(f"{source} does not exist: the model was trained before profiles")
    check_profile(profile, source)
    dates = window_dates(end, days)
    lake = Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url)
    window = read_window(lake, dates, str(champion.version))
    if window.empty:
        raise DataError(
            f"the prediction log at {lake.uri('predictions')} has no prediction of "
            f"v{champion.version} from {dates[0]} to {dates[-1]}: nothing to measure"
        )
    features = input_drift(profile, window[list(MODEL_INPUT_COLUMNS)])
    levels = prediction_drift(profile["predictions"], list(window["occupancy_level"]))
    report = {
        "model": {"name": settings.model_name, "version": str(champion.version)},
        "window": {"from": dates[0].isoformat(), "to": dates[-1].isoformat(), "rows": len(window)},
        "predictions": dataclasses.asdict(levels),
        "features": [dataclasses.asdict(d) for d in features],
    }
    key = f"monitoring/drift/{dates[-1].isoformat()}-v{champion.version}.json"
    lake.write_json(key, report)
    log.info("drift: %s rows of v%s measured, report at %s", len(window), champion.version, key)
    return {
        "step": "drift",
        "model_version": str(champion.version),
        "rows": len(window),
        "report": lake.uri(key),
        "largest": [{"feature": d.feature, "psi": round(d.psi, 4)} for d in features[:SHOWN]],
        "predicted_levels_psi": round(levels.psi, 4),
    }


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--until {text!r} is not a date: use YYYY-MM-DD") from None
