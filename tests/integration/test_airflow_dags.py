"""The DAGs under `airflow dags test` with the local runner: failures surface the step's reason.

The successful end-to-end run (both DAGs, a new @champion) is `test_demo.py`.
"""

from __future__ import annotations

import pytest

from occupancy.errors import PipelineError
from occupancy.orchestration import LocalAirflow

pytestmark = pytest.mark.integration


@pytest.fixture
def airflow(isolated_settings, monkeypatch) -> LocalAirflow:
    monkeypatch.setenv("OCCUPANCY_STEP_RETRIES", "0")  # fail at once, no retry delay
    local = LocalAirflow(isolated_settings, "test")
    local.migrate()
    return local


def test_a_failing_step_fails_its_task_with_the_steps_error(airflow, tmp_path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(PipelineError) as failed:
        airflow.test_dag("data_treatment_dag", {"pipeline_run_id": "f-1", "raw_uri": str(missing)})
    assert f"no file at {missing.as_uri()}" in str(failed.value)
    task_log = airflow.log_file.read_text()
    assert f"error: no file at {missing.as_uri()}" in task_log  # the step's own line
    # Its source's treat is skipped, saying why; combine then fails the run naming the source.
    assert "had nothing to do: source nowhere of run f-1 is not treated" in task_log
    assert "run f-1: every source failed, so nothing is combined" in str(failed.value)
    assert "running occupancy step train" not in task_log  # nothing was trained


def test_bad_input_fails_its_task_at_once_despite_retries(isolated_settings, tmp_path) -> None:
    """Exit 2 (the input is wrong) is never retried, whatever OCCUPANCY_STEP_RETRIES says: the
    same file would be refused again after every back-off (316 s in all before this rule)."""
    local = LocalAirflow(isolated_settings, "test")  # OCCUPANCY_STEP_RETRIES left at 2
    local.migrate()
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(PipelineError, match=r"refused its input \(exit 2, not retried\)") as bad:
        local.test_dag("data_treatment_dag", {"pipeline_run_id": "e-1", "raw_uri": str(empty)})
    assert bad.value.exit_code == 2  # `occupancy demo` on a bad file exits 2 too, not 1
    assert local.log_file.read_text().count("running occupancy step ingest") == 1


def test_training_an_untreated_run_stops_at_the_check(airflow) -> None:
    with pytest.raises(PipelineError) as failed:
        airflow.test_dag("train_pipeline_dag", {"pipeline_run_id": "never-treated"})
    assert "run never-treated has no processed data" in str(failed.value)
    assert "running occupancy step train" not in airflow.log_file.read_text()


def test_training_without_a_run_to_train_on_says_how_to_start_one(airflow) -> None:
    with pytest.raises(PipelineError) as failed:
        airflow.test_dag("train_pipeline_dag", {})
    assert "no pipeline run to train on" in str(failed.value)
