"""`helm install` of a rendered release on the replay cluster, and `kubectl rollout status`.

Helm's order: pre-install hooks by weight, each to completion; then every resource at once (the
kubelet starts their pods in parallel, and init containers do the waiting); then post-install
hooks by weight, each to completion (a failed hook fails the install). Jobs follow their
restartPolicy and backoffLimit; Deployments and StatefulSets run one pod each.
"""

from __future__ import annotations

import time
from typing import Any

from engine import Cluster, Pod, _suffix, log
from manifests import Workload


def pod_name(workload: Workload) -> str:
    if workload.kind == "StatefulSet":
        return f"{workload.name}-0"
    if workload.kind == "Deployment":
        return f"{workload.name}-{_suffix(10)}-{_suffix(5)}"
    return f"{workload.name}-{_suffix(5)}"


def create_pod(cluster: Cluster, workload: Workload) -> Pod:
    name = pod_name(workload)
    claims = {
        claim: cluster.workdir / "claims" / f"{claim}-{name}" for claim in workload.claims
    }  # a StatefulSet's claim `<template>-<pod>`, mounted where the template names it
    spec = dict(workload.pod_spec)
    if claims:
        spec["volumes"] = [
            *(spec.get("volumes") or []),
            *({"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims),
        ]
    pod = cluster.new_pod(
        name,
        workload.ref,
        workload.labels,
        spec,
        default_restart="Always" if workload.kind != "Job" else "Never",
        claims=claims,
        subdomain=workload.spec.get("serviceName"),
    )
    return pod


def run_job(cluster: Cluster, workload: Workload, timeout: float) -> Pod:
    """A Job to completion: OnFailure restarts in the pod, Never makes a new pod; either way
    the Job fails after `backoffLimit` retries (default 6), or after activeDeadlineSeconds."""
    limit = workload.spec.get("backoffLimit", 6)
    deadline = time.monotonic() + (workload.spec.get("activeDeadlineSeconds") or timeout)
    failures = 0
    while True:
        pod = create_pod(cluster, workload)
        cluster.start(pod)
        while pod.phase in ("Pending", "Running") and pod.restarts <= limit:
            if time.monotonic() > deadline:
                cluster.stop_pod(pod)
                raise AssertionError(f"{workload.ref} did not complete in time: {pod.events[-3:]}")
            time.sleep(1)
        if pod.phase == "Succeeded":
            log(f"{workload.ref} completed")
            return pod
        cluster.stop_pod(pod)
        failures += 1 + pod.restarts
        if failures > limit:
            raise AssertionError(
                f"{workload.ref} failed (backoffLimit {limit}): {pod.reason}\n{cluster.logs(pod)}"
            )


def install(cluster: Cluster, timeout: float) -> dict[str, Any]:
    """Install the release; return the plain workloads' pods and the hook Jobs' pods."""
    release = cluster.release
    hooks = sorted((w for w in release.workloads if w.hook), key=lambda w: (w.hook_weight, w.name))
    for hook in (h for h in hooks if h.hook == "pre-install"):
        log(f"pre-install hook {hook.ref}")
        run_job(cluster, hook, timeout)
    plain = [w for w in release.workloads if not w.hook]
    # Every pod's network namespace first: Service links and names need every pod's address.
    pods = {w.ref: create_pod(cluster, w) for w in plain}
    for pod in pods.values():
        cluster.start(pod)
    hook_pods = {}
    for hook in (h for h in hooks if h.hook == "post-install"):
        log(f"post-install hook {hook.ref}")
        hook_pods[hook.ref] = run_job(cluster, hook, timeout)
    return {"pods": pods, "hooks": hook_pods}


def wait_rollout(cluster: Cluster, pods: dict[str, Pod], refs: list[str], timeout: float) -> None:
    """`kubectl rollout status` for Deployments/StatefulSets, `kubectl wait --for=condition=complete`
    for Jobs; fail fast when a pod failed for good."""
    deadline = time.monotonic() + timeout
    while True:
        pending = []
        for ref in refs:
            pod = pods[ref]
            done = pod.phase == "Succeeded" if ref.startswith("Job/") else pod.ready
            if pod.phase == "Failed":
                raise AssertionError(f"{ref} failed: {pod.reason}\n{cluster.logs(pod)}")
            if not done:
                pending.append(ref)
        if not pending:
            return
        if time.monotonic() > deadline:
            detail = "\n".join(cluster.logs(pods[r]) for r in pending)
            raise AssertionError(f"not ready after {timeout:.0f} s: {pending}\n{detail}")
        time.sleep(2)
