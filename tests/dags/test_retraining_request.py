"""monitoring_dag's request_retraining and data_treatment_dag's raw_uri: what crosses the Asset."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

RETRAIN = {
    "retrain": True,
    "reasons": ["input drift: PSI over 0.25 on 1 feature(s): price 0.70"],
    "report": "s3://lake/monitoring/runs/r1/report.html",
    "run_id": "r1",
    "model_version": "3",
}


class _Outlet:
    extra: dict[str, Any] | None = None


def _request(load_dags, monkeypatch, summary: dict[str, Any], raw_uri: str | None):
    from occupancy_airflow.assets import RETRAINING_NEEDED

    task = load_dags().dags["monitoring_dag"].get_task("request_retraining")
    assert task.outlets == [RETRAINING_NEEDED]
    outlet = _Outlet()
    context = {"params": {"raw_uri": raw_uri}, "outlet_events": {RETRAINING_NEEDED: outlet}}
    monkeypatch.setitem(task.python_callable.__globals__, "get_current_context", lambda: context)
    return task.python_callable(summary), outlet


def test_a_crossed_threshold_with_a_newer_scrape_asks_for_retraining_on_it(
    load_dags, monkeypatch
) -> None:
    _, outlet = _request(load_dags, monkeypatch, RETRAIN, "s3://lake/raw/next.csv.gz")
    assert outlet.extra["raw_uri"] == "s3://lake/raw/next.csv.gz"
    assert outlet.extra["reason"] == RETRAIN["reasons"][0]
    assert outlet.extra["model_version"] == "3" and outlet.extra["report"] == RETRAIN["report"]


@pytest.mark.parametrize(
    ("summary", "raw_uri", "said"),
    [
        ({**RETRAIN, "retrain": False}, "s3://lake/raw/next.csv", "no threshold crossed"),
        # The champion's own data again cannot fix drift in what it is asked: nothing is retrained.
        (RETRAIN, None, "no newer scrape was given"),
    ],
)
def test_otherwise_the_request_is_skipped_saying_why(
    load_dags, monkeypatch, summary, raw_uri, said
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match=said):
        _request(load_dags, monkeypatch, summary, raw_uri)


def _event(raw_uri: str, minute: int) -> SimpleNamespace:
    return SimpleNamespace(
        extra={"raw_uri": raw_uri}, timestamp=datetime(2026, 12, 1, 0, minute, tzinfo=UTC)
    )


def test_the_treatment_run_takes_the_newest_requested_scrape_whatever_the_order(
    load_dags, monkeypatch
) -> None:
    from occupancy_airflow.assets import RETRAINING_NEEDED

    task = load_dags().dags["data_treatment_dag"].get_task("raw_uris")
    events = [_event("s3://lake/raw/newest.csv", 30), _event("s3://lake/raw/older.csv", 10)]
    context = {
        "params": {"raw_uri": None, "raw_uris": None},
        "triggering_asset_events": {RETRAINING_NEEDED: events},
    }
    monkeypatch.setitem(task.python_callable.__globals__, "get_current_context", lambda: context)
    assert task.python_callable() == ["s3://lake/raw/newest.csv"]
    context["params"]["raw_uri"] = "s3://lake/raw/given.csv"  # the conf wins
    assert task.python_callable() == ["s3://lake/raw/given.csv"]
    context["params"]["raw_uris"] = ["s3://lake/raw/a.csv", "https://x.test/b/listings.csv.gz"]
    assert task.python_callable() == context["params"]["raw_uris"]  # the list wins over both
    context["params"].update(raw_uri=None, raw_uris=None)
    context["triggering_asset_events"] = {}
    assert task.python_callable() == []  # a manual run: the step's default, OCCUPANCY_RAW_URI


def _rendered_until(load_dags, context: dict[str, Any]) -> str:
    """The `--until` the drift task's command gets, rendered by Airflow's own template engine."""
    from airflow.sdk import macros

    dag = load_dags().dags["monitoring_dag"]
    task = dag.get_task("drift").prepare_for_execution()
    task.render_template_fields(
        {"params": dag.params.dump(), "macros": macros, "run_id": "manual__1", **context},
        jinja_env=dag.get_template_env(),
    )
    arguments = list(task.arguments)
    return str(arguments[arguments.index("--until") + 1])


def test_a_run_without_a_logical_date_measures_up_to_now(load_dags) -> None:
    """The REST API and the UI trigger with no logical date: Airflow 3 then leaves `ds` out of
    the template context, and the template must not fail on it."""
    assert _rendered_until(load_dags, {}) == ""


def test_a_scheduled_run_measures_up_to_the_day_before_its_logical_date(load_dags) -> None:
    assert _rendered_until(load_dags, {"ds": "2026-12-03"}) == "2026-12-02"
