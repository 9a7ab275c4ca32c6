"""Where a pipeline run keeps its outputs in the lake, and how a step publishes them.

    runs/<run id>/ingest/      <writer>/listings.parquet   valid raw rows, every column as text
                               <writer>/quarantine.csv     invalid rows, one reason each
                               _manifest.json              the step's summary, written last
    runs/<run id>/processed/   <writer>/listings.parquet   the cleaned, split training table
                               <writer>/report.json        class balance and missing values
                               _manifest.json
    runs/<run id>/sources/<source>/ingest/      the same, per source, when a run treats
    runs/<run id>/sources/<source>/processed/   several raw files (the combine step then
    runs/<run id>/sources/<source>/_failed.json publishes runs/<run id>/processed/); the
                                                failure record of a source that failed
    processed/latest.json      the last published processed run (the training DAG's Asset)

A step's outputs exist for the others only once its manifest is written, so a step that fails
half-way publishes nothing. This is the one module that knows these keys; steps and training ask
it, and read a step's files at the URIs its manifest names.

No silent reuse, no mixing. Each attempt at a step writes its files under a fresh writer token
(`w-<random>`), never over another attempt's, and then creates the manifest with a conditional
write (`Lake.create`: S3 `If-None-Match: *`, local `link`). Of two concurrent writers of one run
id exactly one manifest lands; the loser deletes its own folder and fails (exit 1: its retry
finds the winner's manifest), so the published manifest always names the winner's files. A
writer that crashed leaves only an unpublished writer folder, which blocks nothing: a rerun
takes a new token. No lease is needed, so there is no expiry to tune and nothing to steal.
A rerun of a published step compares its inputs with those the manifest recorded: the same
inputs return the manifest marked `reused` (an idempotent no-op), other inputs are a
ConfigError (exit 2) naming the run, both inputs and what to do (a new run id).
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from occupancy.config import Settings
from occupancy.errors import (
    ConfigError,
    LakeError,
    NotFoundError,
    OccupancyError,
    SkippedError,
)
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
FAILED = "_failed.json"


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

    def new_writer(self) -> str:
        """A fresh writer token: the folder where this attempt, and only it, writes its files."""
        return f"w-{uuid.uuid4().hex[:12]}"

    def upload(self, source: Path, name: str, writer: str) -> str:
        """Put a local file into the writer's folder (atomically); returns its URI."""
        self.lake.upload(source, self.key(f"{writer}/{name}"))
        return self.uri(f"{writer}/{name}")

    def write_json(self, name: str, payload: Any, writer: str) -> str:
        """Write a JSON file into the writer's folder; returns its URI."""
        self.lake.write_json(self.key(f"{writer}/{name}"), payload)
        return self.uri(f"{writer}/{name}")

    def fetch(self, manifest: dict[str, Any], field: str, target: Path) -> Path:
        """Download the file the manifest names in `field` (check it with `digest.verify_file`)."""
        return self.fetch_uri(manifest[field], target)

    def fetch_uri(self, uri: str, target: Path) -> Path:
        """Download the file at `uri`, a URI a manifest names, inside the lake."""
        return self.lake.download(self._key_of(uri), target)

    def read_json_of(self, manifest: dict[str, Any], field: str) -> Any:
        """The JSON file the manifest names in `field`."""
        return self.lake.read_json(self._key_of(manifest[field]))

    def holds(self, uri: str) -> bool:
        """True when the object at `uri` (a URI from the manifest) exists."""
        return self.lake.exists(self._key_of(uri))

    def _key_of(self, uri: str) -> str:
        root = f"{self.lake.root}/"
        if not uri.startswith(root):
            raise LakeError(f"the manifest at {self.uri(MANIFEST)} names {uri}, outside the lake")
        return uri.removeprefix(root)

    def published(self) -> dict[str, Any] | None:
        """The manifest, or None while the step has not published."""
        if not self.exists(MANIFEST):
            return None
        manifest: dict[str, Any] = self.lake.read_json(self.key(MANIFEST))
        return manifest

    def reuse(self, manifest: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        """The published manifest marked `reused`, when this rerun's `inputs` are the ones it
        recorded; a ConfigError naming both otherwise. Inputs the manifest lacks (written before
        they were recorded) are not compared."""
        recorded = {k: manifest[k] for k in inputs if k in manifest}
        given = {k: inputs[k] for k in recorded}
        if recorded != given:
            raise ConfigError(
                f"run {self.run_id}'s {self.step} was published from {_describe(recorded)} "
                f"({self.uri(MANIFEST)}), but this rerun was given {_describe(given)}: a run's "
                "outputs never change, so start a new run id for new inputs"
            )
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
        """Create the manifest of writer `summary["writer"]`: from now on its outputs exist.

        Returns the manifest's URI. When another writer published first, this writer's folder
        is removed and a LakeError says so (a retry then reuses, or refuses, the winner's).
        """
        writer = summary["writer"]
        if self.lake.create_json(self.key(MANIFEST), summary):
            return self.uri(MANIFEST)
        self.lake.delete_folder(self.key(writer))
        raise LakeError(
            f"run {self.run_id}'s {self.step} was published by another writer while this one "
            f"({writer}) ran, at {self.uri(MANIFEST)}; this writer's files are removed: rerun "
            "to reuse the published outputs, or use a new run id for new inputs"
        )


def _describe(inputs: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in inputs.items()) or "nothing recorded"


@dataclass(frozen=True)
class SourceLayout:
    """The folders of one source of a run that treats several raw files."""

    lake: Lake
    run_id: str
    name: str

    @property
    def folder(self) -> str:
        return f"sources/{self.name}"

    @property
    def ingest(self) -> StepOutputs:
        return StepOutputs(self.lake, self.run_id, "ingest", f"{self.folder}/ingest", "ingested")

    @property
    def processed(self) -> StepOutputs:
        return StepOutputs(self.lake, self.run_id, "treat", f"{self.folder}/processed", "processed")

    @property
    def _failure_key(self) -> str:
        return f"runs/{self.run_id}/{self.folder}/{FAILED}"

    def record_failure(self, step: str, error: str, exit_code: int) -> None:
        """Say why this source failed, for the combine step's report (the last failure wins)."""
        self.lake.write_json(
            self._failure_key, {"step": step, "error": error, "exit_code": exit_code}
        )

    @contextlib.contextmanager
    def failures_recorded(self, step: str) -> Iterator[None]:
        """Record why `step` failed for this source, then let the failure go on."""
        try:
            yield
        except SkippedError:  # the failure that caused the skip is the one on record
            raise
        except OccupancyError as exc:
            try:
                self.record_failure(step, str(exc), exc.exit_code)
            except LakeError as unrecorded:  # the step's own error matters more
                log.warning("could not record the failure of source %s: %s", self.name, unrecorded)
            raise

    def failure(self) -> dict[str, Any] | None:
        """The last recorded failure of this source, if any."""
        if not self.lake.exists(self._failure_key):
            return None
        failure: dict[str, Any] = self.lake.read_json(self._failure_key)
        return failure


class RunLayout:
    """The lake folders of one pipeline run (the run id is checked on the way in)."""

    def __init__(self, lake: Lake, run_id: str) -> None:
        self.lake = lake
        self.run_id = check_run_id(run_id)
        self.ingest = StepOutputs(lake, run_id, "ingest", "ingest", "ingested")
        self.processed = StepOutputs(lake, run_id, "treat", "processed", "processed")

    def source(self, name: str) -> SourceLayout:
        """The folders of source `name` of this run (`occupancy.sources` checks the name)."""
        return SourceLayout(self.lake, self.run_id, name)

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
