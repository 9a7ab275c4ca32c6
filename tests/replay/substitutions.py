"""Every change the chart replay makes to the rendered chart, in one place, printed at start.

Only what this machine forces: no image registry is reachable (so the PostgreSQL, MinIO and mc
images are replaced by local stand-ins that honour the same contract, keeping the chart's env,
volumes, probes and security context), and no Kubernetes API server can run (so the scheduler
runs the steps as local processes, and the step pods are replayed separately from the pods the
DAG factory renders).
"""

from __future__ import annotations

import copy
from typing import Any

# The release as the README installs it, with the images `make e2e` builds.
RELEASE, NAMESPACE, TAG = "occupancy", "occupancy", "dev"

# image prefix in the chart → (local stand-in, what it reproduces)
OFFLINE_IMAGES = {
    "postgres:": (
        "occupancy-postgres:offline",
        "Debian PostgreSQL 15 behind the official image's entrypoint contract "
        "(POSTGRES_PASSWORD_FILE, PGDATA, initdb.d, any UID)",
    ),
    "quay.io/minio/minio:": (
        "occupancy-seaweedfs:offline",
        "SeaweedFS S3 behind MinIO's `server` command line and /minio/health/* (no web console)",
    ),
    "quay.io/minio/mc:": (
        "occupancy-seaweedfs:offline",
        "the `mc` subset the bucket Job runs: alias set, mb, ready, ls (anything else exits 2)",
    ),
}
# Local builds the chart is pointed at with --set-string (values, not substitutions).
IMAGE_VALUES = {
    "mlflow.image": "occupancy-mlflow",
    "airflow.image": "occupancy-airflow",
    "airflow.steps.image": "occupancy-app",
    "api.image": "occupancy-app",
}
# Values `make deploy` gives the chart on a cluster: the release's namespace labelled for Pod
# Security `restricted` (the replay enforces it on every pod it creates: admission.py), and the
# Kubernetes API's addresses, kind's (no API server here; NetworkPolicies are analysed by nca).
CLUSTER_VALUES = {
    "namespace.create": "true",
    "airflow.networkPolicy.kubeApiCidrs": "{10.96.0.1/32,172.18.0.2/32}",
}
# The kind node the README sizes the chart for: pods are scheduled against it.
NODE_CPU_MILLIS = 4000
NODE_MEMORY_BYTES = 8 * 2**30


def helm_sets(tag: str) -> list[str]:
    sets = []
    for key, repository in IMAGE_VALUES.items():
        sets += [
            "--set-string",
            f"{key}.repository={repository}",
            "--set-string",
            f"{key}.tag={tag}",
        ]
    for key, value in CLUSTER_VALUES.items():
        sets += ["--set", f"{key}={value}"]
    return sets


def image_for(offline: bool):
    def choose(image: str) -> str:
        if offline:
            for prefix, (stand_in, _) in OFFLINE_IMAGES.items():
                if image.startswith(prefix):
                    return stand_in
        return image

    return choose


def scheduler_as_local_runner(objects: list[dict[str, Any]], release: str) -> list[dict[str, Any]]:
    """The scheduler runs `occupancy step …` itself (OCCUPANCY_STEP_RUNNER=local) with the step
    pods' environment (their ConfigMap and Secret as envFrom), and without its service-account
    token: KubernetesPodOperator would need an API server."""
    objects = copy.deepcopy(objects)
    name = f"{release}-airflow-scheduler"
    (scheduler,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name
    ]
    spec = scheduler["spec"]["template"]["spec"]
    spec["automountServiceAccountToken"] = False
    container = next(c for c in spec["containers"] if c["name"] == "scheduler")
    env = {e["name"]: e for e in container["env"]}
    env["OCCUPANCY_STEP_RUNNER"] = {"name": "OCCUPANCY_STEP_RUNNER", "value": "local"}
    container["env"] = list(env.values())
    container["envFrom"] = [
        *(container.get("envFrom") or []),
        {"configMapRef": {"name": env["OCCUPANCY_STEP_CONFIGMAP"]["value"]}},
        {"secretRef": {"name": env["OCCUPANCY_STEP_SECRET"]["value"]}},
    ]
    return objects


def describe(offline: bool, release: str) -> list[str]:
    lines = []
    if offline:
        lines += [
            f"image {prefix}* → {image}: {what}" for prefix, (image, what) in OFFLINE_IMAGES.items()
        ]
    else:
        lines.append("images: the chart's own (a registry is reachable)")
    lines += [
        f"Deployment/{release}-airflow-scheduler: OCCUPANCY_STEP_RUNNER=local, envFrom the step "
        "ConfigMap and Secret, no service-account token (KubernetesPodOperator needs an API "
        "server); the step pods are replayed separately, as the DAG factory renders them",
        f"scheduling: one node of {NODE_CPU_MILLIS}m CPU / {NODE_MEMORY_BYTES // 2**30} GiB "
        "(the kind node the README sizes for); limits are enforced by Docker on this machine",
    ]
    return lines
