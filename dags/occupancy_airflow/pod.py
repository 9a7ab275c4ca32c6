"""KubernetesPodOperator with the steps' exit-code contract: a pod that exits 2 is not retried.

A step exits 2 when its input or a contract is wrong (DESIGN.md section 5): the same pod would
fail the same way on every retry, so the task fails at once (the step's `error: ...` line is in
the task log, which the operator streams from the pod). Any other failure keeps the operator's
own exception, which Airflow retries with back-off.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from occupancy_airflow.config import EXIT_BAD_INPUT


def base_container_exit_code(remote_pod: Any, container: str) -> int | None:
    """The exit code of `container` in the pod as the API server last reported it, if it ended."""
    status = getattr(remote_pod, "status", None)
    for entry in getattr(status, "container_statuses", None) or []:
        if entry.name == container and entry.state and entry.state.terminated:
            return int(entry.state.terminated.exit_code)
    return None


class StepPodOperator(KubernetesPodOperator):  # type: ignore[misc]  # Airflow is not analysed here
    """One pipeline step in its own pod; exit 2 fails the task without retries."""

    def cleanup(self, pod: Any, remote_pod: Any, *args: Any, **kwargs: Any) -> None:
        try:
            super().cleanup(pod, remote_pod, *args, **kwargs)
        except (AirflowFailException, AirflowSkipException):  # already final: no retry
            raise
        except AirflowException as failure:
            code = base_container_exit_code(remote_pod, self.base_container_name)
            if code == EXIT_BAD_INPUT:
                raise AirflowFailException(
                    f"step pod refused its input (exit {code}, not retried): {failure}"
                ) from failure
            raise
