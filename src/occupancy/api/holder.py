"""The served model: loaded from `models:/<name>@<alias>`, checked, swapped atomically.

A background thread polls the alias. A new version is downloaded, loaded and checked (it must
score its own input example and a cleaned probe listing, with probabilities over our four
levels) before one reference assignment makes it the served model. Any failure leaves the
previous model serving and is recorded for `/model` and the metrics. With no model yet (MLflow
down or no champion) the thread retries with exponential backoff.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from occupancy.api.fastpath import TOLERANCE, FastModel, compile_pipeline, verify
from occupancy.config import Settings
from occupancy.data.clean import clean_listings
from occupancy.data.rows import CleanedRows
from occupancy.data.schema import CLASSES
from occupancy.probabilities import in_class_order
from occupancy.registry import Registry

log = logging.getLogger(__name__)

# A plausible raw listing in Inside Airbnb's formats: a candidate model must score it.
PROBE_LISTING: dict[str, Any] = {
    "id": "1",
    "host_id": "1",
    "last_scraped": "2025-09-30",
    "host_since": "2019-05-01",
    "host_response_time": "within an hour",
    "host_response_rate": "100%",
    "host_acceptance_rate": "95%",
    "host_is_superhost": "t",
    "host_listings_count": "2",
    "host_total_listings_count": "3",
    "host_verifications": "['email', 'phone']",
    "host_has_profile_pic": "t",
    "host_identity_verified": "t",
    "neighbourhood_cleansed": "Central",
    "latitude": "40.73",
    "longitude": "-74.17",
    "property_type": "Entire rental unit",
    "room_type": "Entire home/apt",
    "accommodates": "4",
    "bathrooms": "1",
    "bathrooms_text": "1 bath",
    "bedrooms": "2",
    "beds": "2",
    "amenities": '["Wifi", "Kitchen", "Air conditioning"]',
    "price": "$120.00",
    "minimum_nights": "2",
    "maximum_nights": "365",
    "instant_bookable": "t",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ServedModel:
    """One loaded, checked model version and its two prediction paths.

    Which path answers a request is decided by `occupancy.api.scoring`, not here.
    """

    name: str
    version: str
    run_id: str | None
    trained_at: str | None
    metrics: dict[str, Any]
    model: Any = field(repr=False)
    loaded_at: str = field(default_factory=_now)
    fast: FastModel | None = field(default=None, repr=False)
    # Validation rows logged with the model (cleaned): the page reads spellings and frequencies.
    example: pd.DataFrame | None = field(default=None, repr=False)

    def predict_proba(self, cleaned: pd.DataFrame) -> np.ndarray:
        """The logged pipeline on a cleaned frame: probabilities in the order zero, low, mid, high."""
        return in_class_order(self.model.predict_proba(cleaned), self.model.classes_)

    def predict_rows(self, cleaned: CleanedRows) -> np.ndarray:
        """The compiled fast path on cleaned rows, same order; only when `fast` is set."""
        if self.fast is None:
            raise ValueError(f"{self.name} v{self.version} has no compiled fast path")
        return in_class_order(self.fast.predict_rows(cleaned), self.model.classes_)


def with_fast_path(served: ServedModel, example: pd.DataFrame | None) -> ServedModel:
    """Attach the compiled fast path if it matches the logged model within 1e-6 on the sample
    (a non-finite difference, from a NaN or infinite probability on either side, never does)."""
    fast = compile_pipeline(served.model)
    if fast is None:
        log.info(
            "no fast path for %s v%s: serving the pipeline as logged", served.name, served.version
        )
        return served
    probe = clean_listings(pd.DataFrame([PROBE_LISTING]))
    sample = probe if example is None else pd.concat([example, probe], ignore_index=True)
    difference = verify(fast, served.model, sample)
    # `nan > TOLERANCE` is False: a NaN from either side would otherwise pass as a match.
    if not math.isfinite(difference) or difference > TOLERANCE:
        log.warning("fast path differs from the logged model by %.2e: not used", difference)
        return served
    return dataclasses.replace(served, fast=fast)


def check_model(served: ServedModel, example: pd.DataFrame | None) -> None:
    """Refuse a model that cannot score its own input example or a cleaned probe listing."""
    unknown = set(map(str, served.model.classes_)) - set(CLASSES)
    if unknown:
        raise ValueError(f"model predicts unknown classes {sorted(unknown)}")
    probe = clean_listings(pd.DataFrame([PROBE_LISTING]))
    for name, frame in (("its input example", example), ("a cleaned probe listing", probe)):
        if frame is None:
            continue
        proba = served.predict_proba(frame)
        if proba.shape != (len(frame), len(CLASSES)) or not np.all(np.isfinite(proba)):
            raise ValueError(f"model returned invalid probabilities for {name}")
        if not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(f"model probabilities for {name} do not sum to 1")


# Told after every check: its outcome ('loaded', 'unchanged', 'failed') and the model then serving.
ReloadListener = Callable[[str, ServedModel | None], None]


class ModelHolder:
    """Holds the served model and keeps it in step with the registry alias."""

    def __init__(self, settings: Settings, *, poll_seconds: float | None = None) -> None:
        self.settings = settings
        self.poll_seconds = settings.poll_seconds if poll_seconds is None else poll_seconds
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        self.last_check_at: str | None = None
        self._listeners: list[ReloadListener] = []
        self._registry: Registry | None = None
        self._lock = threading.Lock()  # one check at a time (poller and POST /model/reload)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_listener(self, listener: ReloadListener) -> None:
        """Call `listener(outcome, current)` after every check (poller and reload alike)."""
        self._listeners.append(listener)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start polling in the background (the first check runs immediately)."""
        self._thread = threading.Thread(target=self._run, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; the served model stays in memory."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            outcome = self.refresh()
            failures = failures + 1 if outcome == "failed" else 0
            # No model yet: retry soon with backoff; otherwise poll at the configured pace.
            wait = (
                min(self.poll_seconds, 2.0**failures) if self.current is None else self.poll_seconds
            )
            self._stop.wait(wait)

    # -- checking -------------------------------------------------------------------------------

    def refresh(self) -> str:
        """Load the alias's version if it changed: 'loaded', 'unchanged' or 'failed'."""
        with self._lock:
            self.last_check_at = _now()
            try:
                outcome = self._refresh()
            except Exception as exc:  # whatever went wrong, the previous model keeps serving
                self.last_error = (
                    f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                )
                log.warning("model check failed, previous model keeps serving: %s", self.last_error)
                outcome = "failed"
            for listener in self._listeners:
                listener(outcome, self.current)
            return outcome

    def _connected(self) -> Registry:
        """The holder's one registry, opened on first use (MLflow may be down at start-up)."""
        if self._registry is None:
            self._registry = Registry(self.settings)  # checks that the server answers
        else:
            # A server gone since: one 5 s check instead of minutes of client retries held
            # under the lock that POST /model/reload waits on.
            self._registry.check_reachable()
        return self._registry

    def _refresh(self) -> str:
        registry = self._connected()
        version = registry.champion()
        if version is None:
            raise LookupError(
                f"no model at models:/{self.settings.model_name}@{self.settings.model_alias} yet"
            )
        current = self.current
        if current is not None and current.version == str(version.version):
            self.last_error = None
            return "unchanged"
        candidate, example = self._load(registry, version)
        check_model(candidate, example)
        candidate = with_fast_path(candidate, example)
        self.current = candidate  # one reference assignment: requests see old or new, never half
        self.last_error = None
        log.info("serving %s v%s", candidate.name, candidate.version)
        return "loaded"

    def _load(self, registry: Registry, version: Any) -> tuple[ServedModel, pd.DataFrame | None]:
        started = time.perf_counter()
        loaded = registry.load_version(str(version.version))
        tags = dict(version.tags or {})
        served = ServedModel(
            name=self.settings.model_name,
            version=str(version.version),
            run_id=version.run_id,
            trained_at=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).isoformat(
                timespec="seconds"
            ),
            metrics={k: _number(v) for k, v in tags.items() if k.endswith("f1_macro")},
            model=loaded.model,
            example=loaded.example,
        )
        uri = f"models:/{self.settings.model_name}/{version.version}"
        log.info("loaded %s in %.1f s", uri, time.perf_counter() - started)
        return served, loaded.example


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value
