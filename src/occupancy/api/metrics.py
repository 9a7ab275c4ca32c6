"""Prometheus metrics of one app instance (own registry, so tests can build many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from occupancy.api.holder import ServedModel

# Buckets tuned for a service whose single-listing answers take milliseconds.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class ApiMetrics:
    """Requests, latency, predictions by class, served version and reload outcomes."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "occupancy_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "occupancy_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "occupancy_predictions",
            "Listings scored, by predicted level",
            ["occupancy_level"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "occupancy_model_version_info",
            "1 for the model version being served",
            ["name", "version"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "occupancy_model_reloads",
            "Model checks by outcome (loaded, unchanged, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.prediction_log_records = Counter(
            "occupancy_prediction_log_records",
            "Scored listings by what the prediction log did with them (written, "
            "dropped_queue_full, dropped_write_failed, dropped_stopped)",
            ["outcome"],
            registry=self.registry,
        )
        self.prediction_log_queued = Gauge(
            "occupancy_prediction_log_queued_records",
            "Scored listings waiting to be written to the prediction log",
            registry=self.registry,
        )
        self.prediction_log_last_write = Gauge(
            "occupancy_prediction_log_last_write_timestamp_seconds",
            "When the prediction log last wrote a file (Unix time; 0: never)",
            registry=self.registry,
        )
        # The latest monitoring report (monitoring_dag), read from MLflow by MonitoringWatcher.
        self.monitoring_feature_psi = Gauge(
            "occupancy_monitoring_feature_psi",
            "PSI of each feature in the latest monitoring report (training rows vs window)",
            ["feature"],
            registry=self.registry,
        )
        self.monitoring_predicted_levels_psi = Gauge(
            "occupancy_monitoring_predicted_levels_psi",
            "PSI of the predicted levels' mix in the latest monitoring report",
            registry=self.registry,
        )
        self.monitoring_live_macro_f1 = Gauge(
            "occupancy_monitoring_live_macro_f1",
            "The champion's live macro-F1 in the latest report (NaN: it had no new scrape)",
            registry=self.registry,
        )
        self.monitoring_live_matched = Gauge(
            "occupancy_monitoring_live_matched_listings",
            "Listings the live macro-F1 was measured on",
            registry=self.registry,
        )
        self.monitoring_retraining_needed = Gauge(
            "occupancy_monitoring_retraining_needed",
            "1 when the latest monitoring report asked for retraining",
            registry=self.registry,
        )
        self.monitoring_last_report = Gauge(
            "occupancy_monitoring_last_report_timestamp_seconds",
            "When the latest monitoring report was made (Unix time; 0: never)",
            registry=self.registry,
        )
        self.monitoring_live_macro_f1.set(float("nan"))
        self.monitoring_predicted_levels_psi.set(float("nan"))
        self._served: tuple[str, str] | None = None

    def monitoring(
        self, *, feature_psi: dict[str, float], metrics: dict[str, float], finished_at: float
    ) -> None:
        """Set the monitoring gauges from a new report's MLflow metrics (its features replace
        the previous report's)."""
        self.monitoring_feature_psi.clear()
        for feature, value in feature_psi.items():
            self.monitoring_feature_psi.labels(feature).set(value)
        self.monitoring_predicted_levels_psi.set(metrics.get("predicted_levels_psi", float("nan")))
        self.monitoring_live_macro_f1.set(metrics.get("live_macro_f1", float("nan")))
        self.monitoring_live_matched.set(metrics.get("live_matched", 0.0))
        self.monitoring_retraining_needed.set(metrics.get("retraining_needed", 0.0))
        self.monitoring_last_report.set(finished_at)

    def record_check(self, outcome: str, served: ServedModel | None) -> None:
        """A holder check's outcome and the version serving after it (a `ReloadListener`)."""
        self.reloads.labels(outcome).inc()
        if served is not None:
            self.serving(served.name, served.version)

    def serving(self, name: str, version: str) -> None:
        """Record which version answers (the previous label set is removed)."""
        if self._served == (name, version):
            return
        if self._served is not None:
            self.model_version.remove(*self._served)
        self.model_version.labels(name, version).set(1)
        self._served = (name, version)
