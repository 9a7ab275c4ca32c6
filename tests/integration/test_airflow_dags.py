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
    assert "running occupancy step treat" not in task_log  # nothing ran after the failure


def test_training_an_untreated_run_stops_at_the_check(airflow) -> None:
    with pytest.raises(PipelineError) as failed:
        airflow.test_dag("train_pipeline_dag", {"pipeline_run_id": "never-treated"})
    assert "run never-treated has no processed data" in str(failed.value)
    assert "running occupancy step train" not in airflow.log_file.read_text()


def test_training_without_a_run_to_train_on_says_how_to_start_one(airflow) -> None:
    with pytest.raises(PipelineError) as failed:
        airflow.test_dag("train_pipeline_dag", {})
    assert "no pipeline run to train on" in str(failed.value)
