"""The replay itself: it refuses what it cannot reproduce, and what it reproduces behaves as in
Kubernetes (read-only Secret mounts, `$(VAR)` expansion, fsGroup ownership, liveness restarts)."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

import pytest
from admission import PodSecurityError, admit
from engine import Cluster, Node, disk_usage
from expansion import expand
from manifests import NotReplayedError, load
from stack import wait_for
from substitutions import TAG

pytestmark = pytest.mark.replay
IMAGE = f"occupancy-app:{TAG}"


def _deployment(**pod_changes: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": IMAGE,
        "command": ["sleep", "infinity"],
        "securityContext": {"runAsUser": 10001, "runAsGroup": 10001},
    }
    spec = {"automountServiceAccountToken": False, "containers": [container], **pod_changes}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe"},
        "spec": {
            "selector": {"matchLabels": {"app": "probe"}},
            "template": {"metadata": {"labels": {"app": "probe"}}, "spec": spec},
        },
    }


def _with_container(**changes: Any) -> dict[str, Any]:
    obj = _deployment()
    obj["spec"]["template"]["spec"]["containers"][0].update(changes)
    return obj


REFUSED = [
    (_with_container(securityContext={"privileged": True}), "securityContext.privileged"),
    (_deployment(hostNetwork=True), "spec.template.spec.hostNetwork"),
    (_deployment(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "volumes[0].hostPath"),
    (_with_container(lifecycle={"preStop": {"exec": {"command": ["true"]}}}), "lifecycle"),
    (_with_container(livenessProbe={"grpc": {"port": 1}}), "livenessProbe.grpc"),
    (_with_container(imagePullPolicy="Always"), "imagePullPolicy"),
    (_with_container(securityContext={"capabilities": {"drop": ["ALL"]}, "seLinuxOptions": {"level": "s0"}}), "seLinuxOptions"),
    (_with_container(env=[{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]), "resourceFieldRef"),
    (_with_container(restartPolicy="Always"), "containers[0].restartPolicy"),
    (_with_container(volumeMounts=[{"name": "v", "mountPath": "/v", "mountPropagation": "Bidirectional"}]), "mountPropagation"),
    (_deployment(affinity={"nodeAffinity": {"x": 1}}), "spec.template.spec.affinity"),
    (_deployment(dnsPolicy="None"), "dnsPolicy"),
    ({**_deployment(), "metadata": {"name": "probe", "annotations": {"sidecar.istio.io/inject": "true"}}}, "annotations"),
    ({"apiVersion": "v1", "kind": "DaemonSet", "metadata": {"name": "d"}, "spec": {}}, "DaemonSet/d: kind"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": []}}, "spec.type"),
]  # fmt: skip


@pytest.mark.parametrize(("obj", "field"), REFUSED, ids=[f for _, f in REFUSED])
def test_an_unsupported_field_is_refused_by_object_and_name(obj, field) -> None:
    with pytest.raises(
        NotReplayedError, match=field.replace("[", r"\[").replace("]", r"\]")
    ) as error:
        load([obj], "ns")
    assert f"{obj['kind']}/{obj['metadata']['name']}" in str(error.value)


def test_defaults_have_nothing_to_reproduce_and_pass() -> None:
    """KubernetesPodOperator renders `affinity: {}`, `hostNetwork: false`, `tolerations: []`."""
    obj = _deployment(affinity={}, hostNetwork=False, tolerations=[], nodeSelector={})
    (workload,) = load([obj], "ns").workloads
    assert workload.ref == "Deployment/probe"


def test_expansion_follows_the_kubelet_rules() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand("x-$(A)-$(EMPTY)-$(UNDEFINED)", env) == "x-1--$(UNDEFINED)"
    assert expand("$$(A) $$ $a $(A", env) == "$(A) $ $a $(A"


@pytest.fixture
def cluster(docker_images, tmp_path):
    def make(objects: list[dict[str, Any]]) -> Cluster:
        made = Cluster(load(objects, "ns"), workdir=tmp_path / "c", node=Node(4000, 8 * 2**30))
        made.create()
        clusters.append(made)
        return made

    clusters: list[Cluster] = []
    yield make
    for made in clusters:
        made.delete()


def _exec(cluster: Cluster, pod, script: str) -> tuple[int, str]:
    import subprocess

    name = next(c.docker_name for c in pod.containers if not c.init)
    done = subprocess.run(
        ["docker", "exec", name, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _running(cluster: Cluster, obj: dict[str, Any]):
    (workload,) = cluster.release.workloads
    pod = cluster.new_pod(
        "probe-0", workload.ref, workload.labels, workload.pod_spec, default_restart="Always"
    )
    cluster.start(pod)
    wait_for("the pod to run", lambda: pod.ready or pod.phase == "Failed", 120, 0.5)
    assert pod.phase == "Running", pod.reason
    return pod


SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "creds"},
    "stringData": {"password": "s3cret", "other": "x"},
}


def test_a_secret_volume_is_read_only_with_its_mode_and_fsgroup(cluster) -> None:
    obj = _deployment(
        securityContext={"fsGroup": 2000},
        volumes=[{"name": "s", "secret": {"secretName": "creds", "defaultMode": 0o440,
                                          "items": [{"key": "password", "path": "pw"}]}}],
    )  # fmt: skip
    container = obj["spec"]["template"]["spec"]["containers"][0]
    # Root inside the container: only the mount itself can stop the write.
    container["securityContext"] = {"runAsUser": 0}
    container["volumeMounts"] = [{"name": "s", "mountPath": "/secrets"}]
    replay = cluster([obj, SECRET])
    pod = _running(replay, obj)
    code, out = _exec(replay, pod, "echo x >> /secrets/pw")
    assert code != 0 and "Read-only file system" in out, out
    code, out = _exec(replay, pod, "stat -c '%a %g' /secrets/pw; ls /secrets; cat /secrets/pw")
    assert out.split() == ["440", "2000", "pw", "s3cret"], out


def test_variables_expand_in_command_args_and_env_as_in_kubernetes(cluster) -> None:
    obj = _with_container(
        command=["sh", "-c", 'echo "$1|$URL|$(POD)" > /tmp/out; sleep infinity', "--"],
        args=["$(USER_NAME):$$(USER_NAME):$(NOPE)"],
        env=[
            {"name": "USER_NAME", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "other"}}},
            {"name": "URL", "value": "postgresql://$(USER_NAME)@db/$(LATER)"},
            {"name": "LATER", "value": "late"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    obj["spec"]["template"]["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    replay = cluster([obj, SECRET])
    pod = _running(replay, obj)
    # `$(POD)` inside the shell script is expanded by the kubelet too (it is in `command`).
    _, out = _exec(replay, pod, "cat /tmp/out")
    assert out.strip() == "x:$(USER_NAME):$(NOPE)|postgresql://x@db/$(LATER)|probe-0", out


def test_fsgroup_owns_writable_volumes_and_joins_the_process_groups(cluster) -> None:
    obj = _with_container(volumeMounts=[{"name": "data", "mountPath": "/data"},
                                        {"name": "mem", "mountPath": "/mem"}])  # fmt: skip
    spec = obj["spec"]["template"]["spec"]
    spec["securityContext"] = {"fsGroup": 3000}
    spec["volumes"] = [
        {"name": "data", "emptyDir": {}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]
    replay = cluster([obj])
    pod = _running(replay, obj)
    _, out = _exec(
        replay,
        pod,
        "id -G; for d in /data /mem; do stat -c '%a %g' $d; touch $d/f; stat -c '%g' $d/f; done",
    )
    groups, data_mode, data_file, mem_mode, mem_file = out.strip().split("\n")
    assert "3000" in groups.split() and "10001" in groups.split()
    assert data_mode == "2777 3000" and data_file == "3000"
    assert mem_mode == "2777 3000" and mem_file == "3000"
    code, out = _exec(replay, pod, "head -c 20000000 /dev/zero > /mem/big")
    assert code != 0 and "No space left" in out, out  # tmpfs sizeLimit is the medium's size


def test_a_failing_liveness_probe_restarts_the_container(cluster) -> None:
    obj = _with_container(
        livenessProbe={"exec": {"command": ["test", "-e", "/tmp/never"]}, "periodSeconds": 1,
                       "failureThreshold": 2, "timeoutSeconds": 5},
        readinessProbe={"exec": {"command": ["true"]}, "periodSeconds": 1},
    )  # fmt: skip
    replay = cluster([obj])
    (workload,) = replay.release.workloads
    pod = replay.new_pod(
        "probe-0", workload.ref, workload.labels, workload.pod_spec, default_restart="Always"
    )
    pod.spec = copy.deepcopy(pod.spec)
    pod.spec["terminationGracePeriodSeconds"] = 1
    started = time.monotonic()
    replay.start(pod)
    wait_for("a liveness restart", lambda: pod.restarts >= 1, 90, 0.5)
    assert any("liveness probe failed" in e for e in pod.events), pod.events
    assert time.monotonic() - started < 90


def test_run_as_non_root_refuses_a_root_process(cluster) -> None:
    obj = _with_container(securityContext={"runAsUser": 0, "runAsNonRoot": True})
    replay = cluster([obj])
    (workload,) = replay.release.workloads
    pod = replay.new_pod(
        "probe-0", workload.ref, workload.labels, workload.pod_spec, default_restart="Always"
    )
    replay.start(pod)
    wait_for("the pod to fail", lambda: pod.phase == "Failed", 60, 0.5)
    assert "runAsNonRoot" in pod.reason and "root" in pod.reason


def test_an_emptydir_directory_removed_while_its_size_is_counted_counts_as_gone(
    tmp_path, monkeypatch
) -> None:
    """A process in the pod deletes a temporary directory between the listing and the reading of
    it (seen in `make chart-replay`: the scheduler's step runner); the pod is not failed for it."""
    (tmp_path / "kept").write_bytes(b"x" * 10)
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "file").write_bytes(b"y" * 5)
    listing = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path).name == "gone":
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert disk_usage(tmp_path) == 10


def _namespace(name: str = "ns", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.33",
}


def _restricted_deployment() -> dict[str, Any]:
    return _with_container(
        securityContext={
            "runAsUser": 10001,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    )


def _create(objects: list[dict[str, Any]], tmp_path) -> Any:
    """new_pod of the one workload: admission runs before anything is started on Docker."""
    replay = Cluster(load(objects, "ns"), workdir=tmp_path / "c", node=Node(4000, 8 * 2**30))
    (workload,) = replay.release.workloads
    return replay.new_pod(
        "probe-0", workload.ref, workload.labels, workload.pod_spec, default_restart="Always"
    )


def test_a_namespace_enforcing_restricted_refuses_a_pod_that_breaks_it(tmp_path) -> None:
    assert load([_namespace(**RESTRICTED)], "ns").pod_security == ("restricted", "v1.33")
    root = _with_container(securityContext={"runAsUser": 0})
    with pytest.raises(PodSecurityError) as refused:
        _create([_namespace(**RESTRICTED), root], tmp_path)
    message = str(refused.value)
    assert message.startswith(
        'pods "probe-0" is forbidden: violates PodSecurity "restricted:v1.33"'
    )
    assert "main: runAsUser must not be 0" in message
    assert "main: allowPrivilegeEscalation must be false" in message


def test_an_unlabelled_namespace_admits_what_restricted_would_refuse() -> None:
    policy = load([], "ns").pod_security
    assert policy == ("privileged", "latest")
    admit(
        policy,
        "probe-0",
        _with_container(securityContext={"runAsUser": 0})["spec"]["template"]["spec"],
    )


def test_a_restricted_pod_is_admitted() -> None:
    spec = _restricted_deployment()["spec"]["template"]["spec"]
    admit(("restricted", "v1.33"), "probe-0", spec)


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (_namespace(**{"pod-security.kubernetes.io/enforce": "baseline"}), "enforce"),
        (_namespace(**{**RESTRICTED, "pod-security.kubernetes.io/enforce-version": "v1.25"}), "enforce-version"),
        (_namespace("elsewhere"), "metadata.name"),
    ],
    ids=["baseline", "another version", "another namespace"],
)  # fmt: skip
def test_a_namespace_the_replay_cannot_enforce_is_refused_by_name(obj, field) -> None:
    with pytest.raises(NotReplayedError, match=field):
        load([obj], "ns")
