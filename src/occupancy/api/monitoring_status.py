"""The latest monitoring report, as the API shows it: `/metrics` gauges and `/monitoring/report`.

`monitoring_dag`'s report step logs an MLflow run tagged `occupancy.role=monitoring`. After each
of the holder's checks of the registry (the same pace, `OCCUPANCY_POLL_SECONDS`), the watcher
looks for a newer one and, when there is, sets the gauges from its metrics. The report page is
downloaded from that run when first asked for and kept for it. Nothing here can stop serving: a
failure is logged and the previous numbers stay.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from occupancy.api.metrics import ApiMetrics
from occupancy.config import Settings
from occupancy.registry import Registry

log = logging.getLogger(__name__)
REPORT_ARTIFACT = "report.html"
PSI_PREFIX = "psi."


@dataclass(frozen=True)
class LatestReport:
    """The newest finished monitoring run's identity and numbers."""

    mlflow_run_id: str
    monitoring_run_id: str
    model_version: str
    finished_at: float  # Unix time
    decision: str  # "retrain" or "stable"
    metrics: dict[str, float]

    @property
    def feature_psi(self) -> dict[str, float]:
        return {
            k.removeprefix(PSI_PREFIX): v
            for k, v in self.metrics.items()
            if k.startswith(PSI_PREFIX)
        }


class MonitoringWatcher:
    """A holder listener keeping the latest monitoring report and its gauges."""

    def __init__(self, settings: Settings, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.latest: LatestReport | None = None
        self._registry: Registry | None = None
        self._html: tuple[str, str] | None = None  # (MLflow run id, page)
        self._lock = threading.Lock()

    def __call__(self, outcome: str, _served: object) -> None:
        if outcome == "failed":  # the registry did not answer the holder: do not wait on it too
            return
        try:
            self.refresh()
        except Exception as exc:  # the gauges are a view; serving never depends on them
            log.warning("could not read the latest monitoring report: %s", exc)

    def _connected(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.settings)
        return self._registry

    def refresh(self) -> LatestReport | None:
        """Read the newest finished monitoring run; update the gauges when it is new."""
        run = self._connected().latest_monitoring_run()
        if run is None or (self.latest and self.latest.mlflow_run_id == run.info.run_id):
            return self.latest
        tags = dict(run.data.tags)
        latest = LatestReport(
            mlflow_run_id=str(run.info.run_id),
            monitoring_run_id=tags.get("occupancy.run_id", ""),
            model_version=tags.get("occupancy.monitored_version", ""),
            finished_at=(run.info.end_time or run.info.start_time) / 1000,
            decision=tags.get("monitoring.decision", ""),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
        )
        self.metrics.monitoring(
            feature_psi=latest.feature_psi, metrics=latest.metrics, finished_at=latest.finished_at
        )
        self.latest = latest
        return latest

    def report_html(self) -> str | None:
        """The latest report's page (None when there is no report yet)."""
        latest = self.latest or self.refresh()
        if latest is None:
            return None
        with self._lock:
            if self._html is None or self._html[0] != latest.mlflow_run_id:
                page = self._connected().run_artifact_text(latest.mlflow_run_id, REPORT_ARTIFACT)
                if page is None:
                    return None
                self._html = (latest.mlflow_run_id, page)
            return self._html[1]


def describe(latest: LatestReport | None) -> dict[str, Any] | None:
    """The latest report in a few fields (for `GET /model`)."""
    if latest is None:
        return None
    return {
        "monitoring_run_id": latest.monitoring_run_id,
        "model_version": latest.model_version,
        "decision": latest.decision,
        "live_macro_f1": latest.metrics.get("live_macro_f1"),
        "report": "/monitoring/report",
    }
