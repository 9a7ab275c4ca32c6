"""The step factory: one pipeline step becomes a KubernetesPodOperator or a local runner.

Both run the same command, `occupancy step <name> --run-id ...`, so a DAG reads the same in every
mode and a step that works locally works in its pod. Which one is built depends on
OCCUPANCY_STEP_RUNNER (see `config`). Step pods follow the restricted Pod Security Standard: non-root
numeric user, no privilege escalation, every capability dropped, RuntimeDefault seccomp,
read-only root filesystem with an emptyDir for /tmp, no service-account token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from occupancy_airflow.config import (
    EXIT_SKIPPED,
    RESULT_FILE_ENV,
    Resources,
    StepConfig,
    load_step_config,
)
from occupancy_airflow.local import LocalStepOperator

CMDS = ["occupancy"]
STEP_UID = 10001  # the numeric USER of the step image (images/app/Dockerfile)
PART_OF = "occupancy"
# The pod's own emptyDir (mounted below on the read-only root), not a /tmp shared with anyone.
SCRATCH = "/tmp"  # nosec B108
# The provider's XCom volume in a pod that returns a result (its sidecar reads this file).
XCOM_RESULT = "/airflow/xcom/return.json"


def restricted_container_context() -> Any:
    """The restricted Pod Security Standard's container settings (steps and the XCom sidecar)."""
    from kubernetes.client import models as k8s

    return k8s.V1SecurityContext(
        allow_privilege_escalation=False,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=STEP_UID,
        run_as_group=STEP_UID,
        seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
    )


def _common(task_id: str, resources: Resources, config: StepConfig) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "retries": config.retries,
        "retry_delay": config.retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": resources.timeout,
    }


def _pod_kwargs(
    task_id: str, resources: Resources, config: StepConfig, result: bool
) -> dict[str, Any]:
    from kubernetes.client import models as k8s

    name = task_id.replace("_", "-")
    result_env = [k8s.V1EnvVar(name=RESULT_FILE_ENV, value=XCOM_RESULT)] if result else []
    return {
        "name": f"occupancy-{name}",
        "image": config.image,
        "image_pull_policy": config.image_pull_policy,
        "cmds": CMDS,
        "namespace": config.namespace,
        "labels": {
            **config.pod_labels,
            "app.kubernetes.io/name": "occupancy-step",
            "app.kubernetes.io/component": name,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "airflow",
        },
        "env_from": [
            k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=config.configmap)),
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=config.secret)),
        ],
        # The root filesystem is read-only: home and scratch space live on the emptyDir.
        "env_vars": [
            k8s.V1EnvVar(name="HOME", value=SCRATCH),
            k8s.V1EnvVar(name="OCCUPANCY_HOME", value=f"{SCRATCH}/occupancy"),
            *result_env,
        ],
        "volumes": [
            k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit="4Gi"))
        ],
        "volume_mounts": [k8s.V1VolumeMount(name="tmp", mount_path=SCRATCH)],
        "container_resources": k8s.V1ResourceRequirements(
            requests={"cpu": resources.cpu_request, "memory": resources.memory_request},
            limits={"cpu": resources.cpu_limit, "memory": resources.memory_limit},
        ),
        "security_context": k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=STEP_UID,
            run_as_group=STEP_UID,
            fs_group=STEP_UID,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        "container_security_context": restricted_container_context(),
        "service_account_name": config.service_account,
        "automount_service_account_token": False,
        "on_finish_action": "delete_pod",
        "get_logs": True,
        "log_events_on_failure": True,
        # A result travels through the provider's sidecar (StepPodOperator makes it restricted).
        "do_xcom_push": result,
        # Exit 3: nothing to do (a source whose ingest failed), the task is skipped.
        "skip_on_exit_code": EXIT_SKIPPED,
        "xcom_sidecar_container_security_context": restricted_container_context(),
        "reattach_on_restart": True,
        "startup_timeout_seconds": 600,  # first pull of the step image on a fresh node
        "termination_grace_period": 30,
        "active_deadline_seconds": int(resources.timeout.total_seconds()) + 300,
    }


def _operator(
    task_id: str, resources: Resources, config: StepConfig | None, result: bool = False
) -> tuple[type[BaseOperator], dict[str, Any]]:
    config = config or load_step_config()
    common = _common(task_id, resources, config)
    if config.runner == "kubernetes":
        from occupancy_airflow.pod import StepPodOperator

        return StepPodOperator, {**common, **_pod_kwargs(task_id, resources, config, result)}
    return LocalStepOperator, {
        **common,
        "cmds": CMDS,
        "executable": config.local_bin,
        "result": result,
    }


def step(
    task_id: str,
    arguments: list[str],
    *,
    resources: Resources,
    config: StepConfig | None = None,
    result: bool = False,
    **kwargs: Any,
) -> Any:
    """A task running `occupancy <arguments>`; `arguments` may hold Jinja templates.

    With `result`, the step's JSON summary is the task's return value (XCom).
    """
    operator, options = _operator(task_id, resources, config, result)
    return operator(arguments=arguments, **options, **kwargs)


def mapped_step(
    task_id: str, *, resources: Resources, config: StepConfig | None = None, **kwargs: Any
) -> Any:
    """The same, to be fanned out with `.expand(arguments=[...])`: one pod per element."""
    operator, options = _operator(task_id, resources, config)
    return operator.partial(**options, **kwargs)
