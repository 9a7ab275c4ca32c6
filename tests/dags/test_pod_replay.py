"""Step pods under the replay's rule (no Docker needed): every pod the DAG factory renders is
replayable, and each field an earlier replay dropped is now reproduced or refused by name."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in ("e2e", "replay"):
    sys.path.insert(0, str(TESTS / folder))
from engine import Cluster, Node, Pod  # noqa: E402  (tests/replay)
from manifests import POD_SPEC, NotReplayedError, Release, check  # noqa: E402
from pod_replay import STEP_TASKS, render_step_pods  # noqa: E402  (tests/e2e)

STEP_ENV = {
    "OCCUPANCY_STEP_RUNNER": "kubernetes",
    "OCCUPANCY_STEP_IMAGE": "occupancy-app:1",
    "OCCUPANCY_STEP_CONFIGMAP": "step-env",
    "OCCUPANCY_STEP_SECRET": "step-secret",
    "OCCUPANCY_STEP_SERVICE_ACCOUNT": "steps",
    "OCCUPANCY_MODEL_FAMILIES": "logreg",
}
STEPS = STEP_TASKS


@pytest.fixture(scope="module")
def step_pods(airflow_home) -> dict[str, dict[str, Any]]:
    with pytest.MonkeyPatch.context():
        return {task: render_step_pods(dag, task, STEP_ENV)[0] for dag, task in STEPS}


@pytest.fixture
def cluster(tmp_path) -> Cluster:
    release = Release(
        "occupancy",
        [],
        [],
        {"step-env": {"OCCUPANCY_LAKE_URI": "s3://lake"}},
        {"step-secret": {"AWS_ACCESS_KEY_ID": "id"}},
        {"steps": {"automountServiceAccountToken": False}},
        [],
    )
    return Cluster(release, workdir=tmp_path, node=Node(4000, 8 * 2**30))


def _args(cluster: Cluster, spec: dict[str, Any]) -> list[str]:
    pod = Pod(cluster, "p", "Pod/p", {}, spec, "Never")
    mounts = {v["name"]: ("bind", "/x", False) for v in spec.get("volumes") or []}
    container = spec["containers"][0]
    env = cluster._environment(pod, container)
    return cluster._run_args(pod, container, container["image"], mounts, env)


@pytest.mark.parametrize("task", [task for _, task in STEPS])
def test_every_step_pod_is_replayable(step_pods, cluster, task) -> None:
    spec = step_pods[task]["spec"]
    check(spec, POD_SPEC, f"Pod/{task}", "spec")
    args = _args(cluster, spec)
    joined = " ".join(args)
    assert "--user 10001:10001" in joined and "--group-add 10001" in joined  # fsGroup
    assert "--read-only" in args and "--cap-drop ALL" in joined
    assert "--security-opt no-new-privileges" in joined
    assert "--cpu-shares" in joined and "--memory" in joined and "--cpus" in joined
    assert "--env OCCUPANCY_LAKE_URI" in joined and "--env AWS_ACCESS_KEY_ID" in joined
    assert args[args.index("--entrypoint") + 1] == "occupancy"


def test_fields_an_earlier_replay_dropped_are_reproduced(step_pods, cluster) -> None:
    spec = copy.deepcopy(step_pods["train"]["spec"])
    container = spec["containers"][0]
    container["workingDir"] = "/tmp"
    container["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    container["securityContext"]["runAsUser"] = 0
    container["securityContext"]["runAsNonRoot"] = False
    joined = " ".join(_args(cluster, spec))
    assert "--workdir /tmp" in joined and "--cap-add NET_BIND_SERVICE" in joined
    assert "--user 0:10001" in joined


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged"),
        (lambda s: s.update(hostNetwork=True), "hostNetwork"),
        (lambda s: s.update(hostPID=True), "hostPID"),
        (lambda s: s.update(volumes=[{"name": "tmp", "hostPath": {"path": "/"}}]), "hostPath"),
        (lambda s: s.update(priorityClassName="high"), "priorityClassName"),
    ],
)
def test_fields_it_cannot_reproduce_are_refused_by_name(step_pods, change, field) -> None:
    spec = copy.deepcopy(step_pods["train"]["spec"])
    change(spec)
    with pytest.raises(NotReplayedError, match=field):
        check(spec, POD_SPEC, "Pod/train", "spec")


def test_a_mounted_service_account_token_is_refused(step_pods, cluster) -> None:
    spec = copy.deepcopy(step_pods["train"]["spec"])
    spec["automountServiceAccountToken"] = True
    pod = Pod(cluster, "p", "Pod/p", {}, spec, "Never")
    with pytest.raises(NotReplayedError, match="no API server"):
        cluster._check_token(pod)
