"""Replay a step pod rendered by the DAG factory on Docker: same image, command, args, env, user.

This is how the Kubernetes step contract is proved without a cluster: the pod that
KubernetesPodOperator would create is rendered with `build_pod_request_obj()`, and every field
that matters to the process is mapped onto `docker run`. A field this mapping does not know
makes it fail rather than silently drop it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def render_step_pods(dag_id: str, task_id: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """The pod(s) of one step task with the kubernetes runner (mapped tasks: one per element)."""
    from kubernetes.client import ApiClient

    os.environ.update(env)
    if str(DAGS_FOLDER) not in sys.path:
        sys.path.append(str(DAGS_FOLDER))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(DAGS_FOLDER))
    assert bag.import_errors == {}, bag.import_errors
    task = bag.dags[dag_id].get_task(task_id)
    operators = (
        [task.unmap({"arguments": a}) for a in task.expand_input.value["arguments"]]
        if hasattr(task, "expand_input")
        else [task]
    )
    return [ApiClient().sanitize_for_serialization(op.build_pod_request_obj()) for op in operators]


def _bytes(quantity: str) -> int:
    for suffix, factor in _UNITS.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)


def docker_run_args(
    pod: dict[str, Any],
    *,
    network: str,
    configmaps: dict[str, dict[str, str]],
    secrets: dict[str, dict[str, str]],
    arguments: list[str],
) -> list[str]:
    """`docker run` arguments equivalent to the pod (its templated args replaced by `arguments`)."""
    spec = pod["spec"]
    (container,) = spec["containers"]
    if spec.get("initContainers"):
        raise ValueError("init containers are not replayed")
    pod_security = spec.get("securityContext") or {}
    security = {**pod_security, **(container.get("securityContext") or {})}
    command = container["command"]
    args = ["docker", "run", "--rm", "--network", network, "--entrypoint", command[0]]
    args += ["--user", f"{security['runAsUser']}:{security['runAsGroup']}"]
    if security.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if (security.get("capabilities") or {}).get("drop") == ["ALL"]:
        args += ["--cap-drop", "ALL"]
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    if (security.get("seccompProfile") or {}).get("type") not in (None, "RuntimeDefault"):
        raise ValueError(f"seccomp profile {security['seccompProfile']} is not replayed")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        if set(volume) != {"name", "emptyDir"}:
            raise ValueError(f"volume {volume} is not replayed (only emptyDir)")
        size = (volume["emptyDir"] or {}).get("sizeLimit")
        option = f",tmpfs-size={_bytes(size)}" if size else ""
        args += ["--mount", f"type=tmpfs,destination={mount['mountPath']},tmpfs-mode=1777{option}"]
    limits = (container.get("resources") or {}).get("limits") or {}
    if "memory" in limits:
        args += ["--memory", str(_bytes(limits["memory"]))]
    if "cpu" in limits:
        cpu = limits["cpu"]
        args += ["--cpus", str(float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))]
    environment: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            environment.update(configmaps[source["configMapRef"]["name"]])
        elif "secretRef" in source:
            environment.update(secrets[source["secretRef"]["name"]])
        else:
            raise ValueError(f"envFrom {source} is not replayed")
    for variable in container.get("env") or []:
        if "value" not in variable:
            raise ValueError(f"env {variable['name']} uses valueFrom, which is not replayed")
        environment[variable["name"]] = variable["value"]
    for name, value in sorted(environment.items()):
        args += ["--env", f"{name}={value}"]
    if len(arguments) != len(container["args"]):
        raise ValueError(f"expected {len(container['args'])} arguments, got {arguments}")
    return [*args, container["image"], *command[1:], *arguments]
