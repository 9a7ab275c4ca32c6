"""Which pipeline run a training DAG run trains when several Asset events coalesced into it.

When more than one data_treatment_dag run publishes before the scheduler starts training, Airflow
creates ONE training run whose `triggering_asset_events` hold every event. Training all of them
would train stale data and race on @champion, so the newest event (by its timestamp) wins and the
others are named as superseded, so that no treatment run is dropped without a record.

The record is an XCom of the choosing task plus a warning in its log, not the DAG run's note:
Airflow 3's execution API (the only channel a task has, airflow.api_fastapi.execution_api.routes.
dag_runs) reads a run and can set the note of a run it *triggers*, but has no call to change the
note of an existing run; writing it would need the public REST API and a user's credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from occupancy_airflow.assets import PIPELINE_RUN_ID_KEY


class AssetEventLike(Protocol):
    """What this module reads of an Airflow 3 `AssetEventDagRunReference`."""

    extra: dict[str, Any] | None
    timestamp: Any
    source_dag_id: str | None
    source_run_id: str | None


@dataclass(frozen=True)
class Choice:
    pipeline_run_id: str
    superseded: tuple[str, ...]  # older runs, newest first; never the chosen one


class MissingRunIdError(ValueError):
    """An Asset event that does not say which pipeline run it announces."""


def _run_id(event: AssetEventLike) -> str:
    found = (event.extra or {}).get(PIPELINE_RUN_ID_KEY)
    if not found:
        raise MissingRunIdError(
            f"the Asset event of {event.source_dag_id} run {event.source_run_id} at "
            f"{event.timestamp} has no {PIPELINE_RUN_ID_KEY!r} in its extra: it was not emitted "
            f'by data_treatment_dag\'s publish_processed; trigger with {{"{PIPELINE_RUN_ID_KEY}": '
            '"<id>"} to train a given run'
        )
    return str(found)


def choose(events: Iterable[AssetEventLike]) -> Choice | None:
    """The newest event's run and the older ones it supersedes; None when there is no event."""
    ordered = sorted(events, key=lambda event: event.timestamp, reverse=True)
    if not ordered:
        return None
    run_ids = [_run_id(event) for event in ordered]
    newest = run_ids[0]
    # dict.fromkeys: a run published twice (a cleared publish task) is superseded once.
    superseded = tuple(run for run in dict.fromkeys(run_ids[1:]) if run != newest)
    return Choice(newest, superseded)


SUPERSEDED_KEY = "superseded_runs"
"""The XCom key of the pipeline_run_id task listing the runs a training run superseded."""
