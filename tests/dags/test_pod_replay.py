"""The pod → `docker run` mapping that `make e2e` uses to replay step pods (no Docker needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from pod_replay import docker_run_args

CONFIG = {"step-env": {"OCCUPANCY_LAKE_URI": "s3://lake", "AWS_ENDPOINT_URL": "http://s3:9000"}}
SECRET = {"step-secret": {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "key"}}


def _pod(**container_changes) -> dict:
    container = {
        "name": "base",
        "image": "occupancy-app:1",
        "command": ["occupancy"],
        "args": ["step", "train", "--run-id", "{{ templated }}"],
        "env": [{"name": "HOME", "value": "/tmp"}],
        "envFrom": [
            {"configMapRef": {"name": "step-env"}},
            {"secretRef": {"name": "step-secret"}},
        ],
        "resources": {"limits": {"cpu": "1500m", "memory": "2Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        **container_changes,
    }
    return {
        "spec": {
            "containers": [container],
            "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
        }
    }


def _args(pod: dict, arguments: list[str] | None = None) -> list[str]:
    return docker_run_args(
        pod,
        network="stack_default",
        configmaps=CONFIG,
        secrets=SECRET,
        arguments=arguments or ["step", "train", "--run-id", "r1"],
    )


def test_every_process_relevant_field_maps_onto_docker_run() -> None:
    args = _args(_pod())
    joined = " ".join(args)
    assert args[:6] == ["docker", "run", "--rm", "--network", "stack_default", "--entrypoint"]
    assert "--user 10001:10001" in joined
    assert "--read-only" in args and "--cap-drop ALL" in joined
    assert "--security-opt no-new-privileges" in joined
    assert f"type=tmpfs,destination=/tmp,tmpfs-mode=1777,tmpfs-size={1024**3}" in joined
    assert f"--memory {2 * 1024**3}" in joined and "--cpus 1.5" in joined
    for pair in ("HOME=/tmp", "OCCUPANCY_LAKE_URI=s3://lake", "AWS_SECRET_ACCESS_KEY=key"):
        assert pair in args
    assert args[-5:] == ["occupancy-app:1", "step", "train", "--run-id", "r1"]


def test_fields_it_cannot_replay_are_refused_not_dropped() -> None:
    pod = _pod()
    pod["spec"]["volumes"] = [{"name": "tmp", "hostPath": {"path": "/"}}]
    with pytest.raises(ValueError, match="only emptyDir"):
        _args(pod)
    with pytest.raises(ValueError, match="valueFrom"):
        _args(_pod(env=[{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]))
    with pytest.raises(ValueError, match="expected 4 arguments"):
        _args(_pod(), ["step", "train"])
    with pytest.raises(KeyError):
        _args(_pod(envFrom=[{"configMapRef": {"name": "not-rendered"}}]))
