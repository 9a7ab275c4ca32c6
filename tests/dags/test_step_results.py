"""A step that returns a result: its summary becomes the task's return value (XCom) locally."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def _step(tmp_path: Path, body: str, *, result: bool) -> Any:
    from occupancy_airflow.local import LocalStepOperator

    script = tmp_path / "occupancy"
    script.write_text(f"#!{sys.executable}\nimport json, os\n{body}\n")
    script.chmod(0o755)
    return LocalStepOperator(
        task_id="report", cmds=["occupancy"], arguments=["step", "report"],
        executable=str(script), result=result,
    )  # fmt: skip


def test_the_local_runner_returns_what_the_step_wrote_to_its_result_file(tmp_path: Path) -> None:
    body = (
        "summary = {'retrain': True, 'reasons': ['input drift: price 0.70']}\n"
        "open(os.environ['OCCUPANCY_STEP_RESULT_FILE'], 'w').write(json.dumps(summary))\n"
        "print(json.dumps(summary))"
    )
    assert _step(tmp_path, body, result=True).execute({}) == {
        "retrain": True,
        "reasons": ["input drift: price 0.70"],
    }


def test_a_step_without_a_result_is_not_given_the_file(tmp_path: Path) -> None:
    body = "assert 'OCCUPANCY_STEP_RESULT_FILE' not in os.environ"
    assert _step(tmp_path, body, result=False).execute({}) is None


def test_a_result_step_that_wrote_nothing_fails_saying_so(tmp_path: Path) -> None:
    import pytest
    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException, match="wrote no result to OCCUPANCY_STEP_RESULT_FILE"):
        _step(tmp_path, "print('{}')", result=True).execute({})
