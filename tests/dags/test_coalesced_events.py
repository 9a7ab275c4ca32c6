"""train_pipeline_dag's pipeline_run_id task when several Asset events coalesced into one run.

The task's own callable runs with a hand-made context: the Asset's events are plain objects with
the attributes of the Task SDK's AssetEventResult (including `created_dagruns`, the DAG runs that
consumed each event), served by a stand-in for the inlet events accessor that filters like the
execution API does. The real coalescing, under a scheduler, is
tests/integration/test_coalesced_training.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
TRAIN = "train_pipeline_dag"


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _consumer(run_id: str, started: float) -> SimpleNamespace:
    return SimpleNamespace(dag_id=TRAIN, run_id=run_id, start_date=_at(started))


def _event(run_id: str | None, minutes: float, *consumers: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(
        extra={} if run_id is None else {"pipeline_run_id": run_id},
        timestamp=_at(minutes),
        source_dag_id="data_treatment_dag",
        source_run_id=f"manual__{minutes}",
        created_dagruns=list(consumers),
    )


class _InletEvents:
    """The accessor's query interface; answers like the execution API (`before` inclusive)."""

    def __init__(self, events: list[SimpleNamespace]) -> None:
        self.events = events
        self.query: dict[str, Any] = {}

    def before(self, when: str) -> _InletEvents:
        self.query["before"] = datetime.fromisoformat(when)
        return self

    def ascending(self, ascending: bool = True) -> _InletEvents:
        self.query["ascending"] = ascending
        return self

    def limit(self, limit: int) -> _InletEvents:
        self.query["limit"] = limit
        return self

    def __iter__(self):
        found = [e for e in self.events if e.timestamp <= self.query.get("before", e.timestamp)]
        found.sort(key=lambda e: e.timestamp, reverse=not self.query.get("ascending", True))
        return iter(found[: self.query.get("limit")])


class _TaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _run(
    load_dags,
    monkeypatch,
    events: list[SimpleNamespace],
    started: float = 60,
    conf_run_id: str | None = None,
    triggering: list[SimpleNamespace] | None = None,
):
    from occupancy_airflow.assets import PROCESSED_LISTINGS

    task = load_dags().dags[TRAIN].get_task("pipeline_run_id")
    assert task.inlets == [PROCESSED_LISTINGS]  # what makes context["inlet_events"] serve it
    ti = _TaskInstance()
    inlet = _InletEvents(events)
    context = {
        "params": {"pipeline_run_id": conf_run_id},
        "dag_run": SimpleNamespace(dag_id=TRAIN, run_id="this-run", start_date=_at(started)),
        "inlet_events": {PROCESSED_LISTINGS: inlet},
        "triggering_asset_events": {PROCESSED_LISTINGS: triggering or []},
        "ti": ti,
    }
    monkeypatch.setitem(task.python_callable.__globals__, "get_current_context", lambda: context)
    return task.python_callable(), ti.pushed


def test_the_newest_event_wins_whatever_the_order_and_the_others_are_recorded(
    load_dags, monkeypatch
) -> None:
    events = [_event("run-b", 5), _event("run-c", 9), _event("run-a", 1)]  # not in time order
    chosen, pushed = _run(load_dags, monkeypatch, events)
    assert chosen == "run-c"
    assert pushed["superseded_runs"] == ["run-b", "run-a"]  # newest first


def test_events_coalesced_after_the_triggering_one_are_trained(load_dags, monkeypatch) -> None:
    """What Airflow 3.3 does: the run consumed only the first queued event, not the newer one."""
    this_run = _consumer("this-run", 60)
    events = [_event("older", 1, this_run), _event("newer", 2)]
    chosen, pushed = _run(load_dags, monkeypatch, events)
    assert (chosen, pushed["superseded_runs"]) == ("newer", ["older"])


def test_the_previous_training_runs_events_are_neither_trained_nor_superseded(
    load_dags, monkeypatch
) -> None:
    previous = _consumer("previous-run", 10)
    this_run = _consumer("this-run", 60)
    events = [
        _event("before", 1, previous),
        _event("coalesced-into-previous", 5),  # published before the previous run started
        _event("also-consumed-here", 8, this_run),  # this run's window starts too early
        _event("mine", 30, this_run),
    ]
    chosen, pushed = _run(load_dags, monkeypatch, events)
    assert (chosen, pushed["superseded_runs"]) == ("mine", [])


def test_events_after_this_run_started_are_left_to_the_next_run(load_dags, monkeypatch) -> None:
    events = [_event("mine", 1), _event("next-runs", 61)]
    chosen, pushed = _run(load_dags, monkeypatch, events, started=60)
    assert (chosen, pushed["superseded_runs"]) == ("mine", [])


def test_the_task_reads_the_latest_events_up_to_its_runs_start(load_dags, monkeypatch) -> None:
    from occupancy_airflow.assets import PROCESSED_LISTINGS
    from occupancy_airflow.coalesce import EVENTS_LOOKED_AT

    task = load_dags().dags[TRAIN].get_task("pipeline_run_id")
    inlet = _InletEvents([_event("run-a", 1)])
    context = {
        "params": {"pipeline_run_id": None},
        "dag_run": SimpleNamespace(dag_id=TRAIN, run_id="r", start_date=_at(60)),
        "inlet_events": {PROCESSED_LISTINGS: inlet},
        "ti": _TaskInstance(),
    }
    monkeypatch.setitem(task.python_callable.__globals__, "get_current_context", lambda: context)
    task.python_callable()
    assert inlet.query == {"before": _at(60), "ascending": False, "limit": EVENTS_LOOKED_AT}


def test_one_event_supersedes_nothing(load_dags, monkeypatch) -> None:
    chosen, pushed = _run(load_dags, monkeypatch, [_event("run-a", 1)])
    assert chosen == "run-a"
    assert pushed["superseded_runs"] == []


def test_the_same_run_published_twice_is_not_superseded_by_itself(load_dags, monkeypatch) -> None:
    events = [_event("run-a", 1), _event("run-b", 2), _event("run-b", 3)]
    chosen, pushed = _run(load_dags, monkeypatch, events)
    assert (chosen, pushed["superseded_runs"]) == ("run-b", ["run-a"])


def test_an_event_without_the_run_id_fails_with_a_clear_reason(load_dags, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    events = [_event("run-a", 1), _event(None, 4)]
    with pytest.raises(AirflowFailException) as failed:
        _run(load_dags, monkeypatch, events)
    assert str(failed.value).startswith(
        "the Asset event of data_treatment_dag run manual__4 at 2026-01-05 12:04:00+00:00 has no "
        "'pipeline_run_id' in its extra"
    )


def test_no_event_of_its_own_fails_saying_how_to_start_one(load_dags, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    events = [_event("the-previous-runs", 1, _consumer("previous-run", 10))]
    with pytest.raises(AirflowFailException, match="no pipeline run to train on"):
        _run(load_dags, monkeypatch, events)


def test_a_run_whose_events_the_previous_run_trained_is_skipped(load_dags, monkeypatch) -> None:
    """The events came after the previous run was created but before it started: it took them."""
    from airflow.sdk.exceptions import AirflowSkipException

    late = _event("late", 9, _consumer("previous-run", 10))
    with pytest.raises(AirflowSkipException, match="trained by the previous training run"):
        _run(load_dags, monkeypatch, [late], triggering=[late])


def test_the_run_conf_overrides_the_events(load_dags, monkeypatch) -> None:
    chosen, pushed = _run(load_dags, monkeypatch, [_event("run-a", 1)], conf_run_id="by-hand")
    assert (chosen, pushed["superseded_runs"]) == ("by-hand", [])


def test_promote_is_told_the_superseded_runs(load_dags) -> None:
    promote = load_dags().dags[TRAIN].get_task("promote")
    at = promote.arguments.index("--superseded")
    assert "key='superseded_runs'" in promote.arguments[at + 1]
