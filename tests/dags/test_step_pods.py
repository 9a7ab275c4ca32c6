"""Step pods as KubernetesPodOperator renders them: valid Kubernetes 1.33, restricted, sized."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import kubernetes_validate
import pytest

from mapped_steps import mapped_arguments
from occupancy.training.models import FAMILIES
from pod_policy import restricted_violations

KUBERNETES = {
    "OCCUPANCY_STEP_RUNNER": "kubernetes",
    "OCCUPANCY_STEP_IMAGE": "registry.example/occupancy-app:1.2.3",
    "OCCUPANCY_STEP_CONFIGMAP": "release-step-env",
    "OCCUPANCY_STEP_SECRET": "release-step-secrets",
    "OCCUPANCY_STEP_SERVICE_ACCOUNT": "release-steps",
    "OCCUPANCY_STEP_POD_LABELS": "app.kubernetes.io/instance=release,occupancy.io/s3-client=true",
}
STEP_TASKS = {
    ("data_treatment_dag", "ingest"): ["step", "ingest"],
    ("data_treatment_dag", "sources"): ["step", "sources"],
    ("data_treatment_dag", "treat"): ["step", "treat"],
    ("data_treatment_dag", "combine"): ["step", "combine"],
    ("train_pipeline_dag", "check_processed"): ["step", "check"],
    ("train_pipeline_dag", "train"): ["step", "train"],
    ("train_pipeline_dag", "promote"): ["step", "promote"],
    ("batch_scoring_dag", "plan"): ["step", "score-plan"],
    ("batch_scoring_dag", "score"): ["step", "score"],
    ("batch_scoring_dag", "summarize"): ["step", "score-summary"],
    ("monitoring_dag", "drift"): ["step", "drift"],
    ("monitoring_dag", "performance"): ["step", "performance"],
    ("monitoring_dag", "report"): ["step", "report"],
}
# Steps whose summary is their task's XCom: a pod with a sidecar.
RESULT_TASKS = {"sources", "plan", "summarize", "report"}


def _concrete(task: Any) -> list[Any]:
    """A plain task as is; a mapped one unmapped once per element of its expansion."""
    if not hasattr(task, "expand_input"):
        return [task]
    return [task.unmap({"arguments": a}) for a in mapped_arguments(task)]


def _pods(bag: Any) -> list[tuple[str, dict[str, Any]]]:
    from kubernetes.client import ApiClient

    rendered = []
    for dag_id, task_id in STEP_TASKS:
        for operator in _concrete(bag.dags[dag_id].get_task(task_id)):
            pod = ApiClient().sanitize_for_serialization(operator.build_pod_request_obj())
            rendered.append((task_id, pod))
    return rendered


@pytest.fixture(scope="module")
def pods(airflow_home) -> list[tuple[str, dict[str, Any]]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in KUBERNETES.items():
            patch.setenv(name, value)
        from airflow.dag_processing.dagbag import DagBag
        from dag_support import DAGS_FOLDER

        bag = DagBag(str(DAGS_FOLDER))
        assert bag.import_errors == {}
        return _pods(bag)


def test_every_step_task_renders_one_pod_per_step(pods) -> None:
    names = [task_id for task_id, _ in pods]
    assert names == [
        "ingest",
        "sources",
        "treat",
        "combine",
        "check_processed",
        *["train"] * len(FAMILIES),
        "promote",
        "plan",
        "score",
        "summarize",
        "drift",
        "performance",
        "report",
    ]


def test_step_pods_are_valid_kubernetes_1_33_objects(pods) -> None:
    for _, pod in pods:
        kubernetes_validate.validate(pod, desired_version="1.33", strict=True)
    # Strict means strict: a misspelled field in a copy of the same pod is refused.
    broken = {**pods[0][1], "spec": {**pods[0][1]["spec"], "restartPolicyy": "Never"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, desired_version="1.33", strict=True)


def test_step_pods_meet_the_restricted_pod_security_standard(pods) -> None:
    for task_id, pod in pods:
        assert restricted_violations(pod["spec"]) == [], task_id
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        container = spec["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"]


def test_a_step_that_returns_a_result_writes_it_where_its_sidecar_reads_it(pods) -> None:
    """The sources' and the report's summaries reach Airflow through the provider's XCom
    sidecar, which must run offline (the step image, not a public alpine) and meet the same
    restricted standard."""
    returning = [pod for task_id, pod in pods if task_id in RESULT_TASKS]
    assert len(returning) == len(RESULT_TASKS)
    for pod in returning:
        _check_result_pod(pod)


def _check_result_pod(pod: dict[str, Any]) -> None:
    step, sidecar = pod["spec"]["containers"]
    assert sidecar["name"] == "airflow-xcom-sidecar"
    assert sidecar["image"] == step["image"] == KUBERNETES["OCCUPANCY_STEP_IMAGE"]
    assert sidecar["securityContext"] == step["securityContext"]
    assert sidecar["resources"]["limits"] == {"cpu": "100m", "memory": "64Mi"}
    env = {e["name"]: e.get("value") for e in step["env"]}
    assert env["OCCUPANCY_STEP_RESULT_FILE"] == "/airflow/xcom/return.json"
    assert {"mountPath": "/airflow/xcom", "name": "xcom"} in step["volumeMounts"]


def test_step_pods_run_the_configured_image_command_and_environment(pods) -> None:
    for task_id, pod in pods:
        spec = pod["spec"]
        container = spec["containers"][0]
        assert container["image"] == KUBERNETES["OCCUPANCY_STEP_IMAGE"]
        assert container["command"] == ["occupancy"]
        assert container["args"][:2] == STEP_TASKS[next(k for k in STEP_TASKS if k[1] == task_id)]
        assert "--run-id" in container["args"]
        # No XCom sidecar unless the step returns a result.
        assert len(spec["containers"]) == (2 if task_id in RESULT_TASKS else 1)
        assert container["envFrom"] == [
            {"configMapRef": {"name": "release-step-env"}},
            {"secretRef": {"name": "release-step-secrets"}},
        ]
        assert spec["serviceAccountName"] == "release-steps"
        assert spec["restartPolicy"] == "Never"
        labels = pod["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "occupancy"
        assert labels["app.kubernetes.io/instance"] == "release"  # what NetworkPolicies admit
        assert labels["occupancy.io/s3-client"] == "true"


def test_each_family_gets_its_own_training_pod(pods) -> None:
    trained = [pod["spec"]["containers"][0]["args"][-1] for t, pod in pods if t == "train"]
    assert trained == list(FAMILIES)


def test_training_pods_get_more_resources_than_data_steps(pods) -> None:
    def memory_limit(task_id: str) -> int:
        pod = next(p for t, p in pods if t == task_id)
        value = pod["spec"]["containers"][0]["resources"]["limits"]["memory"]
        return int(value.removesuffix("Gi")) * 1024 if value.endswith("Gi") else int(value[:-2])

    assert memory_limit("train") > memory_limit("treat") > memory_limit("check_processed")


def test_the_local_runner_runs_the_same_command(load_dags) -> None:
    bag = load_dags()  # OCCUPANCY_STEP_RUNNER unset: local
    kube = load_dags(**KUBERNETES)
    for dag_id, task_id in STEP_TASKS:
        local_ops = _concrete(bag.dags[dag_id].get_task(task_id))
        kube_ops = _concrete(kube.dags[dag_id].get_task(task_id))
        assert [type(op).__name__ for op in local_ops] == ["LocalStepOperator"] * len(local_ops)
        for local, pod in zip(local_ops, kube_ops, strict=True):
            assert (local.cmds, local.arguments) == (pod.cmds, pod.arguments)
            assert local.retries == pod.retries
            assert local.execution_timeout == pod.execution_timeout


def test_the_retry_delay_is_a_setting(load_dags) -> None:
    """60 s by default; the fault suite (`make chaos`) shortens it to see retries in minutes."""
    default = load_dags().dags["data_treatment_dag"].get_task("treat")
    assert default.retry_delay == timedelta(seconds=60)
    short = load_dags(OCCUPANCY_STEP_RETRY_DELAY="5").dags["data_treatment_dag"].get_task("treat")
    assert short.retry_delay == timedelta(seconds=5)


def test_a_bad_retry_delay_fails_parsing_with_its_name() -> None:
    from occupancy_airflow.config import load_step_config

    expected = r"OCCUPANCY_STEP_RETRY_DELAY must be a whole number of seconds >= 1, got '0'"
    with pytest.raises(ValueError, match=expected):
        load_step_config({"OCCUPANCY_STEP_RETRY_DELAY": "0"})
