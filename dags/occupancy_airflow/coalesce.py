"""Which pipeline run a training DAG run trains when several Asset events coalesced into it.

When more than one data_treatment_dag run publishes before the scheduler creates a training run
(it was busy, down, or the previous training run still held `max_active_runs=1`), Airflow 3.3
creates ONE training run, but its `triggering_asset_events` stop at the FIRST queued event: the
Asset queue keeps one row per (Asset, DAG), written by the first event, and the scheduler takes
that row's time as the run's `run_after` and the end of its event window
(airflow.jobs.scheduler_job_runner._create_dag_runs_asset_triggered). The newer events are in
no run's window until yet another treatment run publishes. Trusting the triggering events would
train the OLDEST run and drop the newer ones without a word.

So a training run reads the Asset's events itself (the Task SDK's inlet events, which carry the
DAG runs each event was consumed by) and takes responsibility for every event published after
the previous training run started, up to its own start (`own_events`). The newest of them is
trained; the others are named as superseded (`choose`). The windows of successive runs do not
overlap, so no run is trained twice and none is dropped without a record.

The record is an XCom of the choosing task, a warning in its log and an MLflow tag on the
pipeline's parent run (set by the promote step), not the DAG run's note: Airflow 3's execution
API (the only channel a task has, airflow.api_fastapi.execution_api.routes.dag_runs) reads a run
and can set the note of a run it *triggers*, but has no call to change the note of an existing
run; writing it would need the public REST API and a user's credentials.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from occupancy_airflow.assets import PIPELINE_RUN_ID_KEY

SUPERSEDED_KEY = "superseded_runs"
"""The XCom key of the pipeline_run_id task listing the runs a training run superseded."""

EVENTS_LOOKED_AT = 100
"""How many of the Asset's latest events a training run reads: far more than ever coalesce
(one per treatment run), and enough to hold the previous training run's events."""


class ConsumerLike(Protocol):
    """What this module reads of a DAG run that consumed an event (`DagRunAssetReference`)."""

    dag_id: str
    run_id: str
    start_date: datetime | None


class AssetEventLike(Protocol):
    """What this module reads of an Airflow 3 Asset event (the Task SDK's `AssetEventResult`)."""

    extra: dict[str, Any] | None
    timestamp: datetime
    source_dag_id: str | None
    source_run_id: str | None

    @property
    def created_dagruns(self) -> Sequence[ConsumerLike]: ...


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


def own_events(
    events: Iterable[AssetEventLike], *, dag_id: str, run_id: str, started_at: datetime
) -> list[AssetEventLike]:
    """The events training run `run_id` of `dag_id`, started at `started_at`, answers for.

    Those published after the previous run of the DAG (the latest other run that consumed any
    of `events` and started before this one) started, and not after this one started. Such a
    window holds this run's triggering events and those that coalesced after them; an event of
    the previous run's window that this run consumed too (its event window starts at the
    previous run's `run_after`, not at its start) is left to the previous run.
    """
    events = list(events)
    earlier = [
        consumer.start_date
        for event in events
        for consumer in event.created_dagruns
        if consumer.dag_id == dag_id
        and consumer.run_id != run_id
        and consumer.start_date is not None  # queued, never started: no window yet
        and consumer.start_date < started_at
    ]
    floor = max(earlier, default=None)
    return [
        event
        for event in events
        if (floor is None or event.timestamp > floor) and event.timestamp <= started_at
    ]


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
