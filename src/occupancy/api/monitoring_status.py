"""The latest monitoring report, as the API shows it: `/metrics` gauges and `/monitoring/report`.

`monitoring_dag`'s report step logs an MLflow run tagged `occupancy.role=monitoring`. After each
of the holder's checks of the registry (the same pace, `OCCUPANCY_POLL_SECONDS`), the watcher
looks, on a thread of its own (never under the holder's lock, never on a request), for the newest
report of the version being served and, when it is new, sets the gauges from its metrics and
downloads its page. Requests read only what it holds. Nothing here can stop serving: a failure
is logged and the previous numbers stay.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

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
    """A holder listener keeping the served version's latest monitoring report and its gauges."""

    def __init__(self, settings: Settings, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.latest: LatestReport | None = None
        self.html: str | None = None  # the latest report's page, once downloaded
        self._registry: Registry | None = None
        self._busy = threading.Lock()  # one refresh at a time; a check finding one running skips

    def __call__(self, outcome: str, served: object) -> None:
        version = getattr(served, "version", None)
        if outcome == "failed" or version is None:  # the registry did not answer the holder
            return
        if not self._busy.acquire(blocking=False):
            return
        threading.Thread(
            target=self._refresh_released, args=(str(version),), name="monitoring-watcher",
            daemon=True,
        ).start()  # fmt: skip

    def _refresh_released(self, version: str) -> None:
        try:
            self.refresh(version)
        except Exception as exc:  # the gauges are a view; serving never depends on them
            log.warning("could not read the latest monitoring report: %s", exc)
        finally:
            self._busy.release()

    def refresh(self, version: str) -> LatestReport | None:
        """Read the newest finished monitoring run of `version`; when new, set the gauges and
        download its page."""
        if self._registry is None:
            self._registry = Registry(self.settings)  # checks that the server answers
        else:
            self._registry.check_reachable()  # 5 s at most, not the client's minutes of retries
        run = self._registry.latest_monitoring_run(version)
        if run is None or (self.latest and self.latest.mlflow_run_id == run.info.run_id):
            return self.latest
        tags = dict(run.data.tags)
        latest = LatestReport(
            mlflow_run_id=str(run.info.run_id),
            monitoring_run_id=tags.get("occupancy.run_id", ""),
            model_version=version,
            finished_at=(run.info.end_time or run.info.start_time) / 1000,
            decision=tags.get("monitoring.decision", ""),
            metrics={k: float(v) for k, v in run.data.metrics.items()},
        )
        html = self._registry.run_artifact_text(latest.mlflow_run_id, REPORT_ARTIFACT)
        self.metrics.monitoring(
            feature_psi=latest.feature_psi, metrics=latest.metrics, finished_at=latest.finished_at
        )
        self.latest, self.html = latest, html
        return latest
