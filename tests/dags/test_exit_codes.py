"""The steps' exit-code contract (DESIGN.md section 5) as both runners honour it: exit 2 means the
input or a contract is wrong and fails the task at once; any other failure is retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# Airflow and the operators are imported inside the tests: the session's Airflow home and kube
# config (tests/conftest.py) must be in place first, as kubernetes reads KUBECONFIG on import.


def _step(tmp_path: Path, code: int) -> Any:
    from occupancy_airflow.local import LocalStepOperator

    script = tmp_path / "occupancy"
    script.write_text(f"#!/bin/sh\necho 'error: listings.csv is empty'\nexit {code}\n")
    script.chmod(0o755)
    return LocalStepOperator(
        task_id=f"ingest_{code}", cmds=["occupancy"], arguments=["step", "ingest"],
        executable=str(script),
    )  # fmt: skip


def test_the_local_runner_fails_at_once_on_bad_input(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"exit 2, not retried\): listings.csv is empty"):
        _step(tmp_path, 2).execute({})


def test_the_local_runner_skips_a_step_with_nothing_to_do(tmp_path: Path) -> None:
    """Exit 3: a source whose ingest failed is not treated; the task is skipped, not failed."""
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match=r"nothing to do: listings.csv is empty"):
        _step(tmp_path, 3).execute({})


@pytest.mark.parametrize("code", [1, 4, 137])
def test_the_local_runner_leaves_other_failures_to_retries(tmp_path: Path, code: int) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    with pytest.raises(AirflowException) as failure:
        _step(tmp_path, code).execute({})
    assert not isinstance(failure.value, AirflowFailException)
    assert "listings.csv is empty" in str(failure.value)


def _failed_pod(code: int, container: str = "base"):  # type: ignore[no-untyped-def]
    from kubernetes.client import models as k8s

    terminated = k8s.V1ContainerStateTerminated(exit_code=code, reason="Error")
    status = k8s.V1ContainerStatus(
        name=container, image="i", image_id="", ready=False, restart_count=0,
        state=k8s.V1ContainerState(terminated=terminated),
    )  # fmt: skip
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="occupancy-ingest-x", namespace="occupancy"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name=container, image="i")]),
        status=k8s.V1PodStatus(phase="Failed", container_statuses=[status]),
    )


class _ApiServer:
    """The calls the operator's real cleanup makes for a kept pod, answered as the API server
    would (no cluster can run here); every other call would fail the test."""

    def __init__(self, pod: object) -> None:
        self.pod = pod

    def read_namespaced_pod(self, name: str, namespace: str, **_: object) -> object:
        return self.pod

    def patch_namespaced_pod(self, name: str, namespace: str, body: object, **_: object) -> object:
        return self.pod


def _operator(pod: object) -> Any:
    from occupancy_airflow.pod import StepPodOperator

    # The pod is kept and no events are read: cleanup reads it back and judges it.
    operator = StepPodOperator(
        task_id="ingest", name="occupancy-ingest", image="occupancy-app:dev", cmds=["occupancy"],
        on_finish_action="keep_pod", log_events_on_failure=False,
    )  # fmt: skip
    operator.client = _ApiServer(pod)
    return operator


def test_a_step_pod_exiting_2_fails_the_task_at_once() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    pod = _failed_pod(2)
    with pytest.raises(AirflowFailException, match=r"exit 2, not retried"):
        _operator(pod).cleanup(pod, pod)


@pytest.mark.parametrize(("code", "container"), [(1, "base"), (137, "base"), (2, "sidecar")])
def test_other_pod_failures_stay_retryable(code: int, container: str) -> None:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    pod = _failed_pod(code, container)
    with pytest.raises(AirflowException, match="returned a failure") as failure:
        _operator(pod).cleanup(pod, pod)
    assert not isinstance(failure.value, AirflowFailException)


def test_step_pods_skip_on_the_packages_skip_exit_code(load_dags) -> None:
    from occupancy.errors import EXIT_SKIPPED

    treatment = load_dags(OCCUPANCY_STEP_RUNNER="kubernetes").dags["data_treatment_dag"]
    operator = treatment.get_task("combine")
    assert operator.skip_on_exit_code == [EXIT_SKIPPED] == [3]
    pod = _failed_pod(EXIT_SKIPPED)
    kept = _operator(pod)
    kept.skip_on_exit_code = operator.skip_on_exit_code
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        kept.cleanup(pod, pod)


def test_a_pod_exit_the_operator_skips_on_stays_a_skip() -> None:
    """`skip_on_exit_code` keeps its meaning even for 2: a skip is not turned into a failure."""
    from airflow.sdk.exceptions import AirflowSkipException

    pod = _failed_pod(2)
    operator = _operator(pod)
    operator.skip_on_exit_code = [2]
    with pytest.raises(AirflowSkipException):
        operator.cleanup(pod, pod)
