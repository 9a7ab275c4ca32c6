"""Checks a pod spec against the restricted Pod Security Standard and this project's own rules.

`pod_security_violations` is the restricted profile as Pod Security Admission enforces it at
`enforce-version: v1.33` (baseline's rules included): what a namespace labelled
`pod-security.kubernetes.io/enforce: restricted` refuses. `restricted_violations` adds the
project's rules (requests and limits on every container, capabilities dropped as exactly ALL).
Kept free of test-framework code so the chart tests, the DAG tests and the chart replay apply
the same rules to every pod they render or start.
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
# Baseline's safe sysctls, as of Kubernetes 1.33 (tcp_rmem/wmem since 1.32).
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ping_group_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
PROFILES = ("RuntimeDefault", "Localhost")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _inherited(container: dict[str, Any], pod: dict[str, Any]) -> Any:
    """A security setting as the kubelet applies it: the container's, else the pod's."""
    return lambda key: container.get(key, pod.get(key))


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container admission looks at: init, regular and ephemeral (`kubectl debug`)."""
    kinds = ("initContainers", "containers", "ephemeralContainers")
    return [container for kind in kinds for container in spec.get(kind) or []]


def _selinux_problems(options: dict[str, Any], where: str) -> list[str]:
    problems = []
    if options.get("type", "") not in SELINUX_TYPES:
        problems.append(f"{where}seLinuxOptions.type {options['type']!r} is not allowed")
    problems += [
        f"{where}seLinuxOptions.{key} must be unset" for key in ("user", "role") if options.get(key)
    ]
    return problems


def _pod_level_violations(spec: dict[str, Any], pod: dict[str, Any]) -> list[str]:
    problems = [
        f"{flag} must be false" for flag in ("hostNetwork", "hostPID", "hostIPC") if spec.get(flag)
    ]
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} uses {sorted(kinds)}")
    problems += _selinux_problems(pod.get("seLinuxOptions") or {}, "")
    problems += [
        f"sysctl {sysctl['name']} is not in the safe set"
        for sysctl in pod.get("sysctls") or []
        if sysctl["name"] not in SAFE_SYSCTLS
    ]
    return problems


def _container_violations(container: dict[str, Any], pod: dict[str, Any]) -> list[str]:
    name = container.get("name", "?")
    own = container.get("securityContext") or {}
    setting = _inherited(own, pod)
    capabilities = own.get("capabilities") or {}
    checks = [
        (setting("runAsNonRoot") is not True, "runAsNonRoot must be true"),
        (setting("runAsUser") == 0, "runAsUser must not be 0"),
        (
            own.get("allowPrivilegeEscalation") is not False,
            "allowPrivilegeEscalation must be false",
        ),
        (bool(own.get("privileged")), "privileged must be false"),
        ("ALL" not in (capabilities.get("drop") or []), "capabilities must drop ALL"),
        (
            bool(set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}),
            "only NET_BIND_SERVICE may be added",
        ),
        (
            (setting("seccompProfile") or {}).get("type") not in PROFILES,
            "seccompProfile must be RuntimeDefault or Localhost",
        ),
        (
            (setting("appArmorProfile") or {}).get("type", "RuntimeDefault") not in PROFILES,
            "appArmorProfile must be RuntimeDefault or Localhost",
        ),
        (
            (setting("windowsOptions") or {}).get("hostProcess") is True,
            "windowsOptions.hostProcess must not be true",
        ),
        (own.get("procMount", "Default") != "Default", "procMount must be Default"),
        (any(p.get("hostPort") for p in container.get("ports") or []), "hostPort is not allowed"),
    ]
    problems = [f"{name}: {problem}" for broken, problem in checks if broken]
    return problems + _selinux_problems(own.get("seLinuxOptions") or {}, f"{name}: ")


def pod_security_violations(
    spec: dict[str, Any], annotations: dict[str, str] | None = None
) -> list[str]:
    """Every way a pod breaks the restricted Pod Security Standard (v1.33); [] if none.
    `annotations`: the pod's metadata annotations (the legacy AppArmor ones are checked)."""
    pod = spec.get("securityContext") or {}
    problems = _pod_level_violations(spec, pod)
    for container in _containers(spec):
        problems += _container_violations(container, pod)
    for key, value in (annotations or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            container = key.removeprefix(APPARMOR_ANNOTATION)
            problems.append(
                f"{container}: AppArmor annotation {value!r} is not runtime/default or localhost/*"
            )
    return problems


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """The restricted profile plus this project's rules: requests and limits on every container,
    capabilities dropped as exactly ["ALL"]; [] if none."""
    problems = pod_security_violations(spec)
    for container in _containers(spec):
        name = container.get("name", "?")
        drop = ((container.get("securityContext") or {}).get("capabilities") or {}).get("drop")
        if "ALL" in (drop or []) and drop != ["ALL"]:
            problems.append(f"{name}: capabilities must drop exactly ['ALL']")
        resources = container.get("resources") or {}
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(part) or {}):
                    problems.append(f"{name}: resources.{part}.{resource} is missing")
    return problems
