"""Where a pipeline run keeps its outputs in the lake, and how a step publishes them.

    runs/<run id>/ingest/      listings.parquet   valid raw rows, every column as text
                               quarantine.csv     invalid rows, one reason each
                               _manifest.json     the step's summary, written last
    runs/<run id>/processed/   listings.parquet   the cleaned, split training table
                               report.json        class balance and missing values
                               _manifest.json
    processed/latest.json      the last published processed run (the training DAG's Asset)

A step's outputs exist for the others only once its manifest is written, so a step that fails
half-way publishes nothing and a re-run of a finished step returns its manifest unchanged. This
is the one module that knows these keys; steps and training ask it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from occupancy.config import Settings
from occupancy.errors import ConfigError, NotFoundError
from occupancy.lake import Lake

log = logging.getLogger(__name__)

# The run-id rule; the DAGs' conf schema carries a copy, kept equal by tests/dags.
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}"
_RUN_ID = re.compile(RUN_ID_PATTERN)

MANIFEST = "_manifest.json"
LATEST_PROCESSED = "processed/latest.json"
LISTINGS = "listings.parquet"
QUARANTINE = "quarantine.csv"
REPORT = "report.json"


def check_run_id(run_id: str) -> str:
    """A run id is a short token safe in object keys, MLflow tags and pod labels."""
    if not _RUN_ID.fullmatch(run_id):
        raise ConfigError(
            f"invalid run id {run_id!r}: use 1-128 letters, digits, '_', '.', ':', '+' or '-', "
            "starting with a letter or digit"
        )
    return run_id


@dataclass(frozen=True)
class StepOutputs:
    """One step's folder of one run: its files and its manifest."""

    lake: Lake
    run_id: str
    step: str  # the step that writes the folder
    folder: str
    contents: str  # what the folder holds, for messages ("ingested", "processed")

    @property
    def prefix(self) -> str:
        """The folder's key prefix, `runs/<run id>/<folder>`."""
        return f"runs/{self.run_id}/{self.folder}"

    def key(self, name: str) -> str:
        """The key of one of the folder's files."""
        return f"{self.prefix}/{name}"

    def uri(self, name: str | None = None) -> str:
        """The full URI of the folder, or of one of its files."""
        return self.lake.uri(self.prefix if name is None else self.key(name))

    def exists(self, name: str) -> bool:
        """True when the folder holds the file."""
        return self.lake.exists(self.key(name))

    def upload(self, source: Path, name: str) -> str:
        """Put a local file into the folder (atomically); returns its URI."""
        self.lake.upload(source, self.key(name))
        return self.uri(name)

    def download(self, name: str, target: Path) -> Path:
        """Copy one of the folder's files to a local path."""
        return self.lake.download(self.key(name), target)

    def write_json(self, name: str, payload: Any) -> str:
        """Write a JSON file into the folder; returns its URI."""
        self.lake.write_json(self.key(name), payload)
        return self.uri(name)

    def published(self) -> dict[str, Any] | None:
        """The manifest, or None while the step has not published."""
        if not self.exists(MANIFEST):
            return None
        manifest: dict[str, Any] = self.lake.read_json(self.key(MANIFEST))
        return manifest

    def reuse(self) -> dict[str, Any] | None:
        """The published manifest marked `reused`, for a step asked to run again; else None."""
        manifest = self.published()
        if manifest is None:
            return None
        log.info("%s of run %s already published; nothing to do", self.step, self.run_id)
        return {**manifest, "reused": True}

    def manifest(self, missing: str) -> dict[str, Any]:
        """The published manifest; NotFoundError naming the folder and `missing` (what to do)."""
        manifest = self.published()
        if manifest is None:
            raise NotFoundError(
                f"run {self.run_id} has no {self.contents} data at {self.uri()}: {missing}"
            )
        return manifest

    def publish(self, summary: dict[str, Any]) -> str:
        """Write the manifest: from now on the step's outputs exist. Returns its URI."""
        return self.write_json(MANIFEST, summary)


class RunLayout:
    """The lake folders of one pipeline run (the run id is checked on the way in)."""

    def __init__(self, lake: Lake, run_id: str) -> None:
        self.lake = lake
        self.run_id = check_run_id(run_id)
        self.ingest = StepOutputs(lake, run_id, "ingest", "ingest", "ingested")
        self.processed = StepOutputs(lake, run_id, "treat", "processed", "processed")

    def ingest_manifest(self) -> dict[str, Any]:
        """The ingested snapshot's manifest, or a NotFoundError saying how to produce it."""
        return self.ingest.manifest(f"run `occupancy step ingest --run-id {self.run_id}` first")

    def processed_manifest(self) -> dict[str, Any]:
        """The processed table's manifest, or a NotFoundError saying how to produce it."""
        return self.processed.manifest(
            f"run data_treatment_dag (or `occupancy step treat --run-id {self.run_id}`) "
            "for this run first"
        )

    def point_latest_processed(self, digest: str) -> None:
        """Move `processed/latest.json` to this run: the training DAG's Asset now means it."""
        self.lake.write_json(
            LATEST_PROCESSED,
            {"run_id": self.run_id, "manifest": self.processed.uri(MANIFEST), "digest": digest},
        )


def open_run(settings: Settings, run_id: str) -> RunLayout:
    """The folders of run `run_id` in the configured lake."""
    return RunLayout(Lake(settings.lake_uri, endpoint_url=settings.s3_endpoint_url), run_id)
