"""The data treatment of several raw files on this machine: one process per source, then combine.

What data_treatment_dag does with one pod per source, without Airflow: `occupancy prepare`
resolves the sources, ingests and treats each one in a process of its own, at most
`OCCUPANCY_MAX_PARALLEL_SOURCES` at a time (ingest and treat are CPU-bound Python, so threads
would share one core), then runs the combine step, whose policy decides what a failed source
means. Each source runs the same step functions as its pod would, so their lake folders,
manifests and failure records are the same.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from occupancy.config import Settings
from occupancy.errors import OccupancyError
from occupancy.sources import Source, resolve_sources
from occupancy.steps.combine import run_combine
from occupancy.steps.ingest import run_ingest
from occupancy.steps.treat import run_treat

log = logging.getLogger(__name__)


def run_treatment(
    settings: Settings, run_id: str, raw_uris: list[str], workers: int | None = None
) -> dict[str, Any]:
    """Ingest and treat every source of `raw_uris` in parallel, then combine; the summary."""
    started = time.perf_counter()
    sources = resolve_sources(raw_uris or [settings.raw_uri], endpoint_url=settings.s3_endpoint_url)
    parallel = max(1, min(workers or settings.max_parallel_sources, len(sources)))
    log.info("prepare: %d source(s), %d at a time", len(sources), parallel)
    # spawn: a fresh interpreter per worker, never a fork of this one's threads and S3 clients.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=parallel, mp_context=context, initializer=_worker_logging
    ) as pool:
        futures = [pool.submit(_prepare_source, settings, run_id, s) for s in sources]
        outcomes = [future.result() for future in futures]
    for source, outcome in zip(sources, outcomes, strict=True):
        if "error" in outcome:
            log.warning("prepare: source %s failed: %s", source.name, outcome["error"])
        else:
            log.info("prepare: source %s, %s rows", source.name, f"{outcome['rows']:,}")
    combined = run_combine(settings, run_id, [s.name for s in sources])
    return {
        **combined,
        "step": "prepare",
        "parallel": parallel,
        "per_source": dict(zip([s.name for s in sources], outcomes, strict=True)),
        "seconds": round(time.perf_counter() - started, 2),
    }


def new_run_id() -> str:
    """A fresh pipeline run id for a local treatment, `prepare-<utc time>-<random>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"prepare-{stamp}-{uuid.uuid4().hex[:6]}"


def _worker_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _prepare_source(settings: Settings, run_id: str, source: Source) -> dict[str, Any]:
    """Ingest then treat one source (in a worker process); a failure is returned, not raised."""
    started = time.perf_counter()
    try:
        run_ingest(settings, run_id, source.uri, source=source.name)
        treated = run_treat(settings, run_id, source=source.name)
    except OccupancyError as exc:  # recorded for the combine step by the steps themselves
        return {"error": str(exc), "exit_code": exc.exit_code}
    return {"rows": treated["rows"], "seconds": round(time.perf_counter() - started, 2)}
