"""Checks a pod spec against the restricted Pod Security Standard and this project's own rules.

Kept free of test-framework code so the chart tests can apply the same rules to every pod
template they render.
"""

from __future__ import annotations

from typing import Any

ALLOWED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _inherited(container: dict[str, Any], pod: dict[str, Any]) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    return lambda key: container.get(key, pod.get(key))


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """Every way a pod spec breaks the restricted profile, or needs requests/limits; [] if none."""
    problems: list[str] = []
    pod = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            problems.append(f"{flag} must be false")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} uses {sorted(kinds)}")
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for container in containers:
        name = container.get("name", "?")
        own = container.get("securityContext") or {}
        setting = _inherited(own, pod)
        if setting("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot must be true")
        if setting("runAsUser") == 0:
            problems.append(f"{name}: runAsUser must not be 0")
        if own.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if own.get("privileged"):
            problems.append(f"{name}: privileged must be false")
        if (own.get("capabilities") or {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities must drop ALL")
        if set((own.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: only NET_BIND_SERVICE may be added")
        seccomp = (setting("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile must be RuntimeDefault")
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(part) or {}):
                    problems.append(f"{name}: resources.{part}.{resource} is missing")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{name}: hostPort is not allowed")
    return problems
