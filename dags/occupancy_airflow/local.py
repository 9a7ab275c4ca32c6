"""The local step runner: the exact command a step pod would run, as a child process of the task.

Used in `occupancy demo` (through `airflow dags test`) and in docker compose, where Airflow and
the `occupancy` package share a machine. Output is streamed line by line into the task log, and
a non-zero exit fails the task with the step's own `error: ...` line as the reason: exit 2 (bad
input, DESIGN.md section 5) at once, without the retries any other failure gets; exit 3 (nothing
to do) marks it skipped. With
`result=True` the step's summary (the JSON it writes to OCCUPANCY_STEP_RESULT_FILE) is the task's
return value, its XCom, as a pod's is through the provider's sidecar.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from occupancy_airflow.config import EXIT_BAD_INPUT, EXIT_SKIPPED, RESULT_FILE_ENV


class LocalStepOperator(BaseOperator):  # type: ignore[misc]  # Airflow is not analysed here
    """Run `cmds + arguments` locally (cmds[0] is replaced by the configured executable)."""

    template_fields: Sequence[str] = ("arguments",)
    ui_color = "#dcefe4"

    def __init__(
        self,
        *,
        cmds: list[str],
        arguments: list[str],
        executable: str,
        result: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.result = result
        self.cmds = cmds
        self.arguments = arguments
        self.executable = executable
        self._process: subprocess.Popen[str] | None = None

    def _command(self) -> list[str]:
        found = shutil.which(self.executable)
        if found is None:
            raise AirflowException(
                f"cannot find the step executable {self.executable!r}: install the occupancy "
                "package where Airflow runs, or set OCCUPANCY_LOCAL_STEP_BIN"
            )
        return [found, *self.cmds[1:], *map(str, self.arguments)]

    def execute(self, context: Any) -> Any:
        if not self.result:
            self._run(os.environ.copy())
            return None
        with tempfile.TemporaryDirectory(prefix="occupancy-step-result-") as folder:
            target = Path(folder) / "result.json"
            self._run({**os.environ, RESULT_FILE_ENV: str(target)})
            if not target.is_file():
                raise AirflowException(f"the step wrote no result to {RESULT_FILE_ENV}")
            return json.loads(target.read_text(encoding="utf-8"))

    def _run(self, env: dict[str, str]) -> None:
        command = self._command()
        shown = shlex.join([*self.cmds, *map(str, self.arguments)])
        self.log.info("running %s", shown)
        # Its own process group, so on_kill stops the step and anything it started.
        # The configured step executable and the task's own arguments, as a list: no shell.
        process = subprocess.Popen(  # nosec B603
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
            env=env,
        )
        self._process = process
        reason = None
        # Narrows the type for mypy only: with stdout=PIPE it always holds.
        assert process.stdout is not None  # nosec B101
        for line in process.stdout:
            line = line.rstrip("\n")
            self.log.info("%s", line)
            if line.startswith("error: "):
                reason = line.removeprefix("error: ")
        code = process.wait()
        if code == EXIT_SKIPPED:
            raise AirflowSkipException(f"`{shown}` had nothing to do: {reason or 'no reason'}")
        if code == EXIT_BAD_INPUT:
            raise AirflowFailException(
                f"`{shown}` refused its input (exit {code}, not retried): {reason or 'no reason'}"
            )
        if code != 0:
            raise AirflowException(f"`{shown}` failed: {reason or f'exit code {code}'}")

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
