"""Run the two Airflow DAGs on this machine with `airflow dags test` (what `occupancy demo` does).

Airflow gets its own SQLite home under `<OCCUPANCY_HOME>/airflow`, the repository's `dags/`
folder and the local step runner, so every task runs the same `occupancy step ...` command a pod
would, as a child process. Airflow's full output goes to a log file; the terminal shows the
step lines. A failed DAG raises PipelineError with the failing step's own error line, exit code
2 when the step refused its input (the task failed without retries), else 1.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from occupancy.config import Settings
from occupancy.errors import EXIT_BAD_INPUT, ConfigError, PipelineError

log = logging.getLogger(__name__)
_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_STEP_LINE = re.compile(r"\[info\s*\] (.*?) \[airflow\.task\.operators\.occupancy_airflow")
_FAILURE = re.compile(r"Airflow(Fail)?Exception: (.*)$")


def dags_folder(settings: Settings) -> Path:
    """The DAG files: OCCUPANCY_DAGS_FOLDER, else `dags/` of the checkout this package runs from."""
    folder = settings.dags_folder or Path(__file__).resolve().parents[2] / "dags"
    if not (folder / "data_treatment_dag.py").is_file():
        raise ConfigError(
            f"no DAG files in {folder}: run from a checkout of the repository or set "
            "OCCUPANCY_DAGS_FOLDER to its dags/ folder"
        )
    return folder


def airflow_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of `airflow dags test`: a private Airflow home and the local runner."""
    bin_dir = Path(sys.executable).parent
    home = settings.home / "airflow"
    # The child inherits this process's environment (credentials, proxies), not re-read settings.
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(settings)),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "OCCUPANCY_STEP_RUNNER": "local",
            "OCCUPANCY_LOCAL_STEP_BIN": str(bin_dir / "occupancy"),
            # The steps must see exactly this process's settings, derived defaults included.
            "OCCUPANCY_HOME": str(settings.home),
            "OCCUPANCY_LAKE_URI": settings.lake_uri,
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


def _airflow(env: dict[str, str], args: list[str], log_file: Path, echo: bool) -> None:
    """Run `airflow <args>`, append its output to `log_file`, show step lines; raise on failure."""
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    tail: deque[str] = deque(maxlen=40)
    failure = None
    final = False  # AirflowFailException: the task failed without retries (its input is wrong)
    with log_file.open("a") as sink:
        # The `airflow` next to this interpreter, with the demo's own arguments: no shell.
        process = subprocess.Popen(  # nosec B603
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        # Narrows the type for mypy only: with stdout=PIPE it always holds.
        assert process.stdout is not None  # nosec B101
        for line in process.stdout:
            sink.write(line)
            tail.append(line.rstrip())
            if found := _FAILURE.search(line):
                final, failure = found.group(1) is not None, found.group(2)
            if not echo:
                continue
            if started := _TASK_START.search(line):
                task, index = started.groups()
                log.info("airflow: task %s%s", task, "" if index == "-1" else f"[{index}]")
            elif step := _STEP_LINE.search(line):
                log.info("  %s", step.group(1).strip())
        code = process.wait()
    if code != 0:
        shown = "\n".join(tail) if failure is None else failure
        raise PipelineError(
            f"`airflow {' '.join(args[:3])}` failed: {shown} (full log: {log_file})",
            exit_code=EXIT_BAD_INPUT if final else 1,
        )


class LocalAirflow:
    """An Airflow home for `airflow dags test` runs of this repository's DAGs."""

    def __init__(self, settings: Settings, log_name: str) -> None:
        self.env = airflow_env(settings)
        self.home = Path(self.env["AIRFLOW_HOME"])
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file = self.home / f"{log_name}.log"

    def migrate(self) -> None:
        """Create or upgrade the SQLite metadata database (idempotent, a few seconds)."""
        log.info("airflow: preparing %s (full output in %s)", self.home, self.log_file)
        _airflow(self.env, ["db", "migrate"], self.log_file, echo=False)

    def test_dag(self, dag_id: str, conf: dict[str, Any]) -> None:
        """One DAG run, in this process's machine, tasks one after the other."""
        log.info("airflow: dags test %s", dag_id)
        args = ["dags", "test", dag_id, "--conf", json.dumps(conf)]
        _airflow(self.env, args, self.log_file, echo=True)


def run_dags(settings: Settings, pipeline_run_id: str, raw_uris: list[str]) -> Path:
    """Both DAGs, one after the other, for one pipeline run id over one or more raw files
    (none: OCCUPANCY_RAW_URI); returns the Airflow log file."""
    airflow = LocalAirflow(settings, f"dags-test-{pipeline_run_id}")
    airflow.migrate()
    airflow.test_dag(
        "data_treatment_dag", {"pipeline_run_id": pipeline_run_id, "raw_uris": raw_uris or None}
    )
    # `airflow dags test` runs one DAG without a scheduler, so the Asset event that schedules the
    # training DAG on a real deployment is replaced by passing the same run id in its conf.
    airflow.test_dag("train_pipeline_dag", {"pipeline_run_id": pipeline_run_id})
    return airflow.log_file
