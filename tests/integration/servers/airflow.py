"""A real Airflow 3 deployment of this repository's DAGs: API server, dag-processor, scheduler.

The metadata database is a fresh database on the test PostgreSQL server, the executor is the
LocalExecutor and the steps run with the local runner (`occupancy step ...` as a child process of
the task), so a DAG runs here exactly as in docker compose, minus the containers. The REST API
(`/api/v2`) is open to everyone (SimpleAuthManager with all users admin): the servers listen on
127.0.0.1 only, and the tests drive and observe the DAGs through it, polling with deadlines.

`AirflowStack.restart_scheduler(**config)` stops the scheduler and starts another with other
`[scheduler]` settings: a test uses it to let Asset events queue up while no training run can
be created (`use_job_schedule=False`), then to let the scheduler create one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .postgres import PostgresServer, create_database
from .process import (
    LOCALHOST,
    clean_env,
    free_port,
    log_tail,
    run_logged,
    spawn,
    terminate,
    venv_bin,
    wait_until_ready,
)

_T = TypeVar("_T")
_POLL_INTERVAL = 0.5  # seconds between REST polls: tasks take seconds, not milliseconds
_FINISHED = {"success", "failed"}
REPOSITORY = Path(__file__).resolve().parents[3]


class AirflowError(AssertionError):
    """A DAG run did not reach the expected state in time; the message says what was seen."""


@dataclass
class AirflowStack:
    """The running components and a small REST client of the API server."""

    url: str
    env: dict[str, str]
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: int = 0  # components started so far: each start gets a log of its own

    # -- REST ------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One call of the public REST API; returns the decoded JSON (None for 404)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/api/v2{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise AirflowError(
                f"{method} {path} answered {error.code}: {error.read().decode()[:500]}"
            ) from None

    def trigger(self, dag_id: str, conf: Mapping[str, Any]) -> str:
        """Start a manual run now; returns its run id."""
        run = self.request(
            "POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf)}
        )
        return str(run["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of a DAG, oldest first."""
        found = self.request("GET", f"/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")
        return list(found["dag_runs"]) if found else []

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The deserialized value of one XCom of a task (None when it has none)."""
        quoted = urllib.parse.quote(run_id, safe="")
        found = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{quoted}/taskInstances/{task_id}/xcomEntries/{key}"
            "?deserialize=true&stringify=false",
        )
        return None if found is None else found["value"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """State of every task instance of a run, mapped ones as `task[index]`."""
        quoted = urllib.parse.quote(run_id, safe="")
        found = self.request("GET", f"/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=100")
        return {
            ti["task_id"] + ("" if ti["map_index"] < 0 else f"[{ti['map_index']}]"): ti["state"]
            for ti in found["task_instances"]
        }

    def wait_for(self, what: str, check: Callable[[], _T | None], timeout: float) -> _T:
        """Poll `check` until it returns something other than None, or fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            found = check()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AirflowError(f"{what}: not after {timeout:.0f} s{self._logs()}")
            time.sleep(_POLL_INTERVAL)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """Wait until a run has finished; fail with its task states unless it succeeded."""
        quoted = urllib.parse.quote(run_id, safe="")

        def finished() -> dict[str, Any] | None:
            run = self.request("GET", f"/dags/{dag_id}/dagRuns/{quoted}")
            return run if run and run["state"] in _FINISHED else None

        run = self.wait_for(f"{dag_id} run {run_id} finished", finished, timeout)
        if run["state"] != "success":
            raise AirflowError(
                f"{dag_id} run {run_id} ended {run['state']}: "
                f"{self.task_states(dag_id, run_id)}{self._logs()}"
            )
        return run

    # -- components ------------------------------------------------------------------------------

    def start(self, component: str, **config: str) -> None:
        """Start `airflow <component>` with extra `[scheduler]` settings (name=value)."""
        env = dict(self.env)
        env.update({f"AIRFLOW__SCHEDULER__{k.upper()}": v for k, v in config.items()})
        command = [str(venv_bin("airflow")), component]
        if component == "api-server":
            command += ["--host", LOCALHOST, "--port", self.url.rsplit(":", 1)[1]]
        self.started += 1
        log_path = self.workdir / f"{self.started}-{component}.log"
        self.processes[component] = spawn(command, log_path=log_path, env=env, cwd=self.workdir)

    def stop(self, component: str) -> None:
        process = self.processes.pop(component, None)
        if process is not None:
            terminate(process)

    def restart_scheduler(self, **config: str) -> None:
        """A new scheduler with these `[scheduler]` settings instead of the running one."""
        old = self.processes.pop("scheduler")
        # The new one starts while the old one shuts down: start-up is the slow part, and the
        # old scheduler, which may not create runs, is gone long before the new one creates any.
        self.start("scheduler", **config)
        terminate(old)

    def stop_all(self) -> None:
        # All told at once, so their graceful shutdowns overlap instead of adding up.
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for component in list(self.processes):
            self.stop(component)

    def _check_alive(self) -> None:
        for component, process in self.processes.items():
            if process.poll() is not None:
                raise AirflowError(
                    f"airflow {component} exited with {process.returncode}{self._logs()}"
                )

    def _logs(self) -> str:
        """The tails of the component logs, for a failure message on a CI machine."""
        return "".join(
            f"\n--- {path.name}:\n{log_tail(path, 25)}"
            for path in sorted(self.workdir.glob("*.log"))
        )


def _environment(database: str, port: int, home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    env = clean_env()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPOSITORY / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",  # 2-core machines
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{LOCALHOST}:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            # Every component must share these (DESIGN.md section 6): random per stack.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"http://{LOCALHOST}:{port}",
            # The scheduler looks for work at once instead of idling between short loops.
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # The steps: local runner, no retry delays, the package's own `occupancy`.
            "OCCUPANCY_STEP_RUNNER": "local",
            "OCCUPANCY_LOCAL_STEP_BIN": str(bin_dir / "occupancy"),
            "OCCUPANCY_STEP_RETRIES": "0",
            "PATH": f"{bin_dir}:{env.get('PATH', '')}",
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def start_airflow(
    postgres: PostgresServer,
    workdir: Path,
    *,
    env: Mapping[str, str],
    scheduler: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[AirflowStack]:
    """Migrate a new metadata database and run the three components until the DAGs are parsed.

    `env` is added to every component's environment (the steps' OCCUPANCY_* and MLflow
    settings); `scheduler` holds `[scheduler]` settings of the first scheduler.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "airflow-home"
    home.mkdir(exist_ok=True)
    server = create_database(postgres, f"airflow_{uuid.uuid4().hex[:12]}")
    database = server.uri.replace("postgresql://", "postgresql+psycopg://", 1)
    port = free_port()
    stack = AirflowStack(
        url=f"http://{LOCALHOST}:{port}",
        env=_environment(database, port, home, env),
        workdir=workdir,
    )
    run_logged(
        [str(venv_bin("airflow")), "db", "migrate"],
        log_path=workdir / "db-migrate.log",
        cwd=workdir,
        env=stack.env,
        what="airflow db migrate",
    )
    try:
        stack.start("api-server")
        wait_until_ready(
            lambda: _answers(f"{stack.url}/api/v2/version"),
            what="the Airflow API server",
            process=stack.processes["api-server"],
            log_path=workdir / "1-api-server.log",
            timeout=timeout,
        )
        stack.start("dag-processor")
        stack.start("scheduler", **(scheduler or {}))
        for dag_id in ("data_treatment_dag", "train_pipeline_dag"):
            stack.wait_for(
                f"{dag_id} parsed", lambda d=dag_id: stack.request("GET", f"/dags/{d}"), timeout
            )
        yield stack
    finally:
        stack.stop_all()  # the home, with the task logs, stays in `workdir` for a post-mortem


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
