"""Step drift: the champion's input drift over the last days of the prediction log.

Reads the champion's reference profile (logged with it at training) and the prediction log's
rows of that version over the window, and writes the drift of every feature and of the predicted
levels, largest PSI first, with the predicted levels' mix per day, to
`<lake>/monitoring/runs/<run id>/drift.json`. The first step of `monitoring_dag`; runnable alone
as `occupancy step drift`. A window without predictions is recorded as such (a quiet day is not
a failure of a daily DAG); nothing is measured on it.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from occupancy.config import Settings
from occupancy.data.clean import MODEL_INPUT_COLUMNS
from occupancy.data.schema import CLASSES
from occupancy.errors import ConfigError, NotFoundError
from occupancy.lake import Lake
from occupancy.monitoring.drift import input_drift, prediction_drift
from occupancy.monitoring.layout import DRIFT, monitoring_key, without_nan
from occupancy.monitoring.profile import FILE_NAME, check_profile
from occupancy.monitoring.window import prediction_log_lake, read_window, window_dates
from occupancy.registry import Registry

log = logging.getLogger(__name__)
SHOWN = 5


def parse_day(text: str, option: str = "--until") -> date:
    """A YYYY-MM-DD option value, or one sentence naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not a date: use YYYY-MM-DD") from None


def window_end(days: int, until: str | None) -> date:
    """The last day of a monitoring window (`until`, default today), the window checked."""
    if days < 1:
        raise ConfigError(f"--days must be 1 or more, got {days}")
    return parse_day(until) if until else datetime.now(UTC).date()


def monitored_champion(registry: Registry, settings: Settings) -> Any:
    """The version monitoring measures: the champion, or one sentence saying there is none."""
    champion = registry.champion()
    if champion is None:
        raise NotFoundError(
            f"no model at models:/{settings.model_name}@{settings.model_alias}: nothing to monitor"
        )
    return champion


def run_drift(
    settings: Settings,
    *,
    run_id: str | None = None,
    days: int = 7,
    until: str | None = None,
) -> dict[str, Any]:
    """Measure and record the champion's drift over the `days` ending `until` (default today)."""
    end = window_end(days, until)
    registry = Registry(settings)
    champion = monitored_champion(registry, settings)
    version = str(champion.version)
    run_id = run_id or f"{end.isoformat()}-v{version}"
    key = monitoring_key(run_id, DRIFT)
    profile = registry.run_artifact_json(champion.run_id, FILE_NAME)
    source = f"{FILE_NAME} of {settings.model_name} v{version}"
    if profile is None:
        raise NotFoundError(f"{source} does not exist: the model was trained before profiles")
    check_profile(profile, source)
    dates = window_dates(end, days)
    lake = Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url)
    predictions_log = prediction_log_lake(settings)
    window = read_window(predictions_log, dates, version)
    report: dict[str, Any] = {
        "model": {
            "name": settings.model_name,
            "version": version,
            "run_id": champion.run_id,
            "test_f1_macro": champion.tags.get("test_f1_macro"),
        },
        "window": {"from": dates[0].isoformat(), "to": dates[-1].isoformat(), "rows": len(window)},
        "reference_predictions": profile["predictions"],
        "daily_levels": _daily_levels(window, dates),
        "predictions": None,
        "features": [],
    }
    if window.empty:
        log.warning(
            "drift: the prediction log at %s has no prediction of v%s from %s to %s: "
            "nothing to measure",
            predictions_log.uri("predictions"),
            version,
            dates[0],
            dates[-1],
        )
    else:
        features = input_drift(profile, window[list(MODEL_INPUT_COLUMNS)])
        levels = prediction_drift(profile["predictions"], list(window["occupancy_level"]))
        report["predictions"] = dataclasses.asdict(levels)
        report["features"] = [dataclasses.asdict(d) for d in features]
        log.info("drift: %s rows of v%s measured, report at %s", len(window), version, key)
    report = without_nan(report)
    lake.write_json(key, report)
    return {
        "step": "drift",
        "run_id": run_id,
        "model_version": version,
        "rows": len(window),
        "report": lake.uri(key),
        "largest": [
            {"feature": d["feature"], "psi": round(d["psi"], 4)}
            for d in report["features"][:SHOWN]
            if d["psi"] is not None
        ],
        "predicted_levels_psi": (
            round(report["predictions"]["psi"], 4)
            if report["predictions"] and report["predictions"]["psi"] is not None
            else None
        ),
    }


def _daily_levels(window: pd.DataFrame, dates: list[date]) -> list[dict[str, Any]]:
    """Per day of the window, how many predictions of each level were made."""
    if window.empty:
        counts = pd.DataFrame(0, index=[d.isoformat() for d in dates], columns=list(CLASSES))
    else:
        day = pd.to_datetime(window["logged_at"], utc=True).dt.strftime("%Y-%m-%d")
        counts = (
            pd.crosstab(day, window["occupancy_level"])
            .reindex(index=[d.isoformat() for d in dates], columns=list(CLASSES))
            .fillna(0)
        )
    return [
        {"date": index, **{level: int(row[level]) for level in CLASSES}}
        for index, row in counts.iterrows()
    ]
