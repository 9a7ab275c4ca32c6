"""tests/pod_policy.py itself: each rule of the restricted Pod Security Standard (Kubernetes 1.33)
catches the spec that breaks it, and a pod meeting them all passes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pod_policy import pod_security_violations, restricted_violations


def _restricted_pod() -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "app:1",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def _pod(**pod: Any) -> dict[str, Any]:
    spec = _restricted_pod()
    spec.update(pod)
    return spec


def _container(**security: Any) -> dict[str, Any]:
    spec = _restricted_pod()
    spec["containers"][0]["securityContext"].update(security)
    return spec


def _pod_security(**security: Any) -> dict[str, Any]:
    spec = _restricted_pod()
    spec["securityContext"].update(security)
    return spec


def _ephemeral() -> dict[str, Any]:
    spec = _restricted_pod()
    debug = copy.deepcopy(spec["containers"][0])
    debug.update(name="debug", securityContext={})
    spec["ephemeralContainers"] = [debug]
    return spec


def _host_port() -> dict[str, Any]:
    spec = _restricted_pod()
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80}]
    return spec


BROKEN = [
    (_pod(hostNetwork=True), "hostNetwork must be false"),
    (_pod(hostPID=True), "hostPID must be false"),
    (_pod(hostIPC=True), "hostIPC must be false"),
    (_pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "volume root uses ['hostPath']"),
    (_pod(volumes=[{"name": "nfs", "nfs": {"server": "x", "path": "/"}}]), "volume nfs uses ['nfs']"),
    (_host_port(), "main: hostPort is not allowed"),
    (_container(privileged=True), "main: privileged must be false"),
    (_container(allowPrivilegeEscalation=True), "main: allowPrivilegeEscalation must be false"),
    (_container(runAsNonRoot=False), "main: runAsNonRoot must be true"),
    (_container(runAsUser=0), "main: runAsUser must not be 0"),
    (_container(capabilities={"drop": ["NET_RAW"]}), "main: capabilities must drop ALL"),
    (_container(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), "main: only NET_BIND_SERVICE may be added"),
    (_container(seccompProfile={"type": "Unconfined"}), "main: seccompProfile must be RuntimeDefault or Localhost"),
    (_container(windowsOptions={"hostProcess": True}), "main: windowsOptions.hostProcess must not be true"),
    (_pod_security(windowsOptions={"hostProcess": True}), "main: windowsOptions.hostProcess must not be true"),
    (_container(appArmorProfile={"type": "Unconfined"}), "main: appArmorProfile must be RuntimeDefault or Localhost"),
    (_pod_security(appArmorProfile={"type": "Unconfined"}), "main: appArmorProfile must be RuntimeDefault or Localhost"),
    (_container(seLinuxOptions={"type": "spc_t"}), "main: seLinuxOptions.type 'spc_t' is not allowed"),
    (_container(seLinuxOptions={"user": "system_u"}), "main: seLinuxOptions.user must be unset"),
    (_pod_security(seLinuxOptions={"role": "sysadm_r"}), "seLinuxOptions.role must be unset"),
    (_container(procMount="Unmasked"), "main: procMount must be Default"),
    (_pod_security(sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "sysctl kernel.msgmax is not in the safe set"),
    (_ephemeral(), "debug: allowPrivilegeEscalation must be false"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "problem"), BROKEN, ids=[p for _, p in BROKEN])
def test_each_restricted_rule_names_the_spec_that_breaks_it(spec, problem) -> None:
    assert problem in pod_security_violations(spec)
    assert problem in restricted_violations(spec)


def test_apparmor_annotations_other_than_runtime_default_or_localhost_are_refused() -> None:
    annotations = {"container.apparmor.security.beta.kubernetes.io/main": "unconfined"}
    assert pod_security_violations(_restricted_pod(), annotations) == [
        "main: AppArmor annotation 'unconfined' is not runtime/default or localhost/*"
    ]


def test_a_pod_meeting_every_rule_passes() -> None:
    spec = _restricted_pod()
    spec["securityContext"]["sysctls"] = [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    ]
    spec["containers"][0]["securityContext"]["seLinuxOptions"] = {
        "type": "container_t",
        "level": "s0",
    }
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    annotations = {"container.apparmor.security.beta.kubernetes.io/main": "runtime/default"}
    assert pod_security_violations(spec, annotations) == []
    assert restricted_violations(spec) == []


def test_the_projects_own_rules_add_requests_and_limits_to_the_profile() -> None:
    spec = _restricted_pod()
    del spec["containers"][0]["resources"]["limits"]
    assert pod_security_violations(spec) == []
    assert "main: resources.limits.cpu is missing" in restricted_violations(spec)
