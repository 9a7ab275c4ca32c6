"""KubernetesPodOperator with the steps' exit-code contract: a pod that exits 2 is not retried.

A step exits 2 when its input or a contract is wrong (DESIGN.md section 5): the same pod would
fail the same way on every retry, so the task fails at once (the step's `error: ...` line is in
the task log, which the operator streams from the pod). Any other failure keeps the operator's
own exception, which Airflow retries with back-off.

A step that returns a result (XCom) gets the provider's sidecar, which reads the result file out
of the pod. Its default image is a public alpine, which a cluster without internet access lacks:
the sidecar runs the step image instead (it has the `sh` the sidecar's loop needs), with the
steps' own restricted security context and small resources.
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

    def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> Any:
        from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import PodDefaults
        from kubernetes.client import models as k8s

        pod = super().build_pod_request_obj(context, dry_run=dry_run)
        for container in pod.spec.containers:
            if container.name == PodDefaults.SIDECAR_CONTAINER_NAME:
                container.image = self.image
                container.image_pull_policy = self.image_pull_policy
                container.resources = k8s.V1ResourceRequirements(
                    requests={"cpu": "10m", "memory": "16Mi"},
                    limits={"cpu": "100m", "memory": "64Mi"},
                )
        return pod

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
