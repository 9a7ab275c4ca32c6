"""Step report: a monitoring run's report, its MLflow record and the retraining decision.

Reads what the drift and performance steps wrote for the run, decides against the thresholds
(`occupancy.monitoring.thresholds`), and writes `report.html` and `summary.json` (last, so a
summary always has its report) under `<lake>/monitoring/runs/<run id>/`. The same files and the
key numbers as metrics go to an MLflow run tagged `occupancy.role=monitoring` in the product's
experiment, which the API reads for its monitoring gauges. The summary's `retrain` and
`reasons` are what `monitoring_dag` turns into the `occupancy_retraining_needed` Asset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from occupancy.config import Settings
from occupancy.errors import NotFoundError
from occupancy.lake import Lake
from occupancy.monitoring.layout import DRIFT, PERFORMANCE, REPORT, SUMMARY, monitoring_key
from occupancy.monitoring.report import render_report
from occupancy.monitoring.thresholds import decide
from occupancy.registry import Registry
from occupancy.registry.tags import MONITORED_VERSION_TAG

log = logging.getLogger(__name__)
DECISION_TAG = "monitoring.decision"
REASONS_TAG = "monitoring.reasons"
MAX_TAG_CHARS = 5000  # MLflow keeps 8,000 characters of a tag value
# MLflow metric names: letters, digits, _ - . space and /; anything else becomes _.
_METRIC_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


def metric_name(text: str) -> str:
    """`text` as a valid MLflow metric name."""
    return _METRIC_NAME.sub("_", text)


def run_report(settings: Settings, *, run_id: str) -> dict[str, Any]:
    """Report on monitoring run `run_id` and decide whether the champion needs retraining."""
    lake = Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url)
    drift_key = monitoring_key(run_id, DRIFT)
    if not lake.exists(drift_key):
        raise NotFoundError(
            f"monitoring run {run_id} has no drift report at {lake.uri(drift_key)}: "
            "run `occupancy step drift --run-id` first"
        )
    drift_bytes = lake.read_bytes(drift_key)
    drift = json.loads(drift_bytes)
    performance_key = monitoring_key(run_id, PERFORMANCE)
    performance_bytes = lake.read_bytes(performance_key) if lake.exists(performance_key) else b""
    performance = json.loads(performance_bytes) if performance_bytes else None
    measured = performance if performance and performance.get("measured") else None
    test_f1 = drift["model"].get("test_f1_macro")
    decision = decide(settings, drift, measured, float(test_f1) if test_f1 else None)
    html = render_report(
        run_id=run_id,
        drift=drift,
        performance=measured,
        decision=decision,
        feature_psi_limit=settings.monitoring_max_feature_psi,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    metrics = _metrics(drift, measured, decision.retrain)
    summary: dict[str, Any] = {
        "step": "report",
        "run_id": run_id,
        "model_version": drift["model"]["version"],
        "window_rows": drift["window"]["rows"],
        "retrain": decision.retrain,
        "reasons": decision.reasons,
        "not_judged": decision.not_judged,
        "report": lake.uri(monitoring_key(run_id, REPORT)),
        "live_macro_f1": metrics.get("live_macro_f1"),
        "truth": measured["truth"] if measured else None,
    }
    with tempfile.TemporaryDirectory(prefix="occupancy-report-") as tmp:
        folder = Path(tmp)
        (folder / REPORT).write_text(html, encoding="utf-8")
        lake.write_bytes(monitoring_key(run_id, REPORT), html.encode())
        (folder / DRIFT).write_bytes(drift_bytes)
        if performance_bytes:
            (folder / PERFORMANCE).write_bytes(performance_bytes)
        # What the record is made of: the measurements and the decision (thresholds included).
        digest = hashlib.sha256(
            drift_bytes + b"\0" + performance_bytes + b"\0" + repr(decision).encode()
        ).hexdigest()[:16]
        mlflow_id, reused = Registry(settings).monitoring_run(
            run_id,
            metrics=metrics,
            tags={
                MONITORED_VERSION_TAG: str(drift["model"]["version"]),
                DECISION_TAG: "retrain" if decision.retrain else "stable",
                REASONS_TAG: "; ".join(decision.reasons)[:MAX_TAG_CHARS] or "none",
            },
            artifacts_dir=folder,
            digest=digest,
        )
    summary["mlflow_run_id"] = mlflow_id
    summary["mlflow_run_reused"] = reused
    lake.write_json(monitoring_key(run_id, SUMMARY), summary)
    if decision.retrain:
        log.warning("report: retraining needed: %s", "; ".join(decision.reasons))
    else:
        log.info("report: no threshold crossed; report at %s", summary["report"])
    return summary


def _metrics(
    drift: dict[str, Any], performance: dict[str, Any] | None, retrain: bool
) -> dict[str, float]:
    """The run's key numbers, NaN left out (MLflow stores it, but no chart can show it)."""
    metrics: dict[str, float] = {
        "window_rows": float(drift["window"]["rows"]),
        "retraining_needed": 1.0 if retrain else 0.0,
    }
    features = [f for f in drift["features"] if _finite(f["psi"])]
    if features:
        metrics["max_feature_psi"] = max(f["psi"] for f in features)
        for f in features:
            metrics[metric_name(f"psi.{f['feature']}")] = float(f["psi"])
    if drift["predictions"] and _finite(drift["predictions"]["psi"]):
        metrics["predicted_levels_psi"] = float(drift["predictions"]["psi"])
    if performance is not None:
        metrics["live_matched"] = float(performance["matched"])
        if _finite(performance["macro_f1"]):
            metrics["live_macro_f1"] = float(performance["macro_f1"])
            for level, f1 in performance["f1_per_class"].items():
                metrics[f"live_f1.{level}"] = float(f1)
    return metrics


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))
