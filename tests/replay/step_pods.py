"""Step pods as KubernetesPodOperator would create them, run by the replay engine to completion.

Used by `make chart-replay` (on the replayed chart) and `make e2e` (on the compose stack's
network): both take the pod that `build_pod_request_obj()` renders, with every field under the
replay's refusal rule, and only Airflow's templating of the args done here.
"""

from __future__ import annotations

import json
from typing import Any

from engine import Cluster, Pod
from stack import wait_for


def templated(arguments: list[str], values: dict[str, str]) -> list[str]:
    """What Airflow's templating gives the pod's args: the value of the flag before each
    template (`--run-id`, `--raw`, `--superseded`); any other template is refused, not guessed."""
    out = []
    for i, argument in enumerate(arguments):
        if "{{" in argument:
            flag = arguments[i - 1] if i else ""
            if flag not in values:
                raise ValueError(f"template {argument!r} after {flag!r} is not replayed")
            argument = values[flag]
        out.append(argument)
    return out


def run_step_pod(
    cluster: Cluster, rendered: dict[str, Any], values: dict[str, str], timeout: float = 900
) -> tuple[Pod, dict[str, Any]]:
    """Run the pod to completion; return it and the step's one-line JSON summary."""
    spec = rendered["spec"]
    for container in spec["containers"]:
        container["args"] = templated(container.get("args") or [], values)
    meta = rendered["metadata"]
    pod = cluster.new_pod(
        meta["name"], f"Pod/{meta['name']}", meta.get("labels") or {}, spec, default_restart="Never"
    )
    cluster.start(pod)
    wait_for(f"step pod {meta['name']}", lambda: pod.phase in ("Succeeded", "Failed"), timeout, 2)
    if pod.phase != "Succeeded":
        raise AssertionError(f"step pod {meta['name']}: {pod.reason}\n{cluster.logs(pod, 80)}")
    return pod, json.loads(cluster.stdout(pod).strip().splitlines()[-1])
