"""train_pipeline_dag's pipeline_run_id task when several Asset events coalesced into one run.

The task's own callable runs with a hand-made context (the events are plain objects with the
attributes Airflow 3's AssetEventDagRunReference has); the real coalescing, under a scheduler, is
in tests/integration/test_airflow_dags.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _event(run_id: str | None, minutes: int) -> SimpleNamespace:
    return SimpleNamespace(
        extra={} if run_id is None else {"pipeline_run_id": run_id},
        timestamp=T0 + timedelta(minutes=minutes),
        source_dag_id="data_treatment_dag",
        source_run_id=f"manual__{minutes}",
    )


class _TaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _run(load_dags, monkeypatch, events: list[SimpleNamespace], conf_run_id: str | None = None):
    task = load_dags().dags["train_pipeline_dag"].get_task("pipeline_run_id")
    ti = _TaskInstance()
    context = {
        "params": {"pipeline_run_id": conf_run_id},
        "triggering_asset_events": {"occupancy_processed_listings": events},
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


def test_the_run_conf_overrides_the_events(load_dags, monkeypatch) -> None:
    chosen, pushed = _run(load_dags, monkeypatch, [_event("run-a", 1)], conf_run_id="by-hand")
    assert (chosen, pushed["superseded_runs"]) == ("by-hand", [])
