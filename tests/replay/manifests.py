"""What the chart replay reproduces of a rendered object, and the refusal of everything else.

Every rendered object is checked against a declarative schema of the fields the replay reproduces
(`WORKLOAD_FIELDS` and friends below). A field outside it fails the replay with the object and the
field's path, unless its value is the Kubernetes default (`false`, `{}`, `[]`, absent), which has
no effect to reproduce. Kinds that hold no process (NetworkPolicy, RBAC, HPA, PDB) are named in
`NOT_REPRODUCED` with the reason, and printed: nothing is dropped silently. The release's own
Namespace sets the Pod Security level the replay enforces on every pod it creates (admission.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from admission import ENFORCE, ENFORCE_VERSION, LEVELS, UNLABELLED, VERSIONS


class NotReplayedError(Exception):
    """A rendered field the replay cannot reproduce: names the object and the field."""

    def __init__(self, where: str, path: str, why: str) -> None:
        super().__init__(f"{where}: {path}: {why}")


ANY = True
Schema = Any  # dict of field -> Schema, [Schema] for lists, ANY, or a validator callable


def one_of(*allowed: Any) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"{value!r} is not replayed (only {list(allowed)})"

    return check


def _annotations(value: Any) -> str | None:
    known = ("checksum/", "checkov.io/", "helm.sh/hook", "helm.sh/resource-policy")
    unknown = [key for key in value or {} if not key.startswith(known)]
    return f"annotations {unknown} are not replayed" if unknown else None


PROBE: Schema = {
    "httpGet": {"path": ANY, "port": ANY, "scheme": one_of("HTTP"), "httpHeaders": ANY},
    "tcpSocket": {"port": ANY},
    "exec": {"command": ANY},
    "initialDelaySeconds": ANY,
    "periodSeconds": ANY,
    "timeoutSeconds": ANY,
    "successThreshold": ANY,
    "failureThreshold": ANY,
}
CONTAINER_SECURITY: Schema = {
    "runAsUser": ANY,
    "runAsGroup": ANY,
    "runAsNonRoot": ANY,
    "readOnlyRootFilesystem": ANY,
    "allowPrivilegeEscalation": ANY,
    "capabilities": {"drop": ANY, "add": ANY},
    "seccompProfile": {"type": one_of("RuntimeDefault", "Unconfined")},
}
ENV_VAR: Schema = {
    "name": ANY,
    "value": ANY,
    "valueFrom": {
        "secretKeyRef": {"name": ANY, "key": ANY, "optional": ANY},
        "configMapKeyRef": {"name": ANY, "key": ANY, "optional": ANY},
        "fieldRef": {
            "fieldPath": one_of(
                "metadata.name", "metadata.namespace", "status.podIP", "spec.serviceAccountName"
            ),
            "apiVersion": ANY,
        },
    },
}
CONTAINER: Schema = {
    "name": ANY,
    "image": ANY,
    # Images are built on this machine: a pull would fail, `Always` cannot be honoured.
    "imagePullPolicy": one_of("IfNotPresent", "Never"),
    "command": ANY,
    "args": ANY,
    "env": [ENV_VAR],
    "envFrom": [
        {
            "configMapRef": {"name": ANY, "optional": ANY},
            "secretRef": {"name": ANY, "optional": ANY},
            "prefix": ANY,
        }
    ],
    "workingDir": ANY,
    "ports": [{"containerPort": ANY, "name": ANY, "protocol": one_of("TCP")}],
    "resources": {"limits": {"cpu": ANY, "memory": ANY}, "requests": {"cpu": ANY, "memory": ANY}},
    "securityContext": CONTAINER_SECURITY,
    "volumeMounts": [{"name": ANY, "mountPath": ANY, "readOnly": ANY, "subPath": ANY}],
    "startupProbe": PROBE,
    "readinessProbe": PROBE,
    "livenessProbe": PROBE,
    "terminationMessagePolicy": one_of("File"),
    "terminationMessagePath": one_of("/dev/termination-log"),
}
KEY_ITEMS: Schema = [{"key": ANY, "path": ANY, "mode": ANY}]
VOLUME: Schema = {
    "name": ANY,
    "emptyDir": {"medium": one_of("", "Memory"), "sizeLimit": ANY},
    "configMap": {"name": ANY, "items": KEY_ITEMS, "defaultMode": ANY, "optional": ANY},
    "secret": {"secretName": ANY, "items": KEY_ITEMS, "defaultMode": ANY, "optional": ANY},
    "projected": {
        "sources": [
            {
                "secret": {"name": ANY, "items": KEY_ITEMS, "optional": ANY},
                "configMap": {"name": ANY, "items": KEY_ITEMS, "optional": ANY},
            }
        ],
        "defaultMode": ANY,
    },
    "persistentVolumeClaim": {"claimName": ANY, "readOnly": ANY},
}
POD_SPEC: Schema = {
    "containers": [CONTAINER],
    "initContainers": [CONTAINER],
    "volumes": [VOLUME],
    "securityContext": {
        "runAsUser": ANY,
        "runAsGroup": ANY,
        "runAsNonRoot": ANY,
        "fsGroup": ANY,
        # Fresh volumes: OnRootMismatch and Always give the same ownership.
        "fsGroupChangePolicy": ANY,
        "supplementalGroups": ANY,
        "seccompProfile": {"type": one_of("RuntimeDefault", "Unconfined")},
    },
    "restartPolicy": ANY,
    "automountServiceAccountToken": ANY,
    "serviceAccountName": ANY,
    "terminationGracePeriodSeconds": ANY,
    "activeDeadlineSeconds": ANY,
    "enableServiceLinks": ANY,
    "dnsPolicy": one_of("ClusterFirst"),
}
METADATA: Schema = {"name": ANY, "namespace": ANY, "labels": ANY, "annotations": _annotations}
TEMPLATE: Schema = {"metadata": {"labels": ANY, "annotations": _annotations}, "spec": POD_SPEC}
SELECTOR: Schema = {"matchLabels": ANY}
WORKLOAD_FIELDS: dict[str, Schema] = {
    # No rollouts happen in a replay, so the update strategy has nothing to act on.
    "Deployment": {
        "replicas": ANY,
        "selector": SELECTOR,
        "strategy": ANY,
        "revisionHistoryLimit": ANY,
        "template": TEMPLATE,
    },
    "StatefulSet": {
        "serviceName": ANY,
        "replicas": ANY,
        "selector": SELECTOR,
        "podManagementPolicy": ANY,
        "updateStrategy": ANY,
        "template": TEMPLATE,
        "volumeClaimTemplates": [
            {
                "metadata": {"name": ANY, "labels": ANY},
                "spec": {
                    "accessModes": ANY,
                    "resources": {"requests": {"storage": ANY}},
                    "storageClassName": ANY,
                },
            }
        ],
    },
    "Job": {
        "backoffLimit": ANY,
        # Clean-up after the run; the replay removes everything at the end anyway.
        "ttlSecondsAfterFinished": ANY,
        "activeDeadlineSeconds": ANY,
        "completions": one_of(1),
        "parallelism": one_of(1),
        "template": TEMPLATE,
    },
}
SERVICE_FIELDS: Schema = {
    "selector": ANY,
    "type": one_of("ClusterIP"),
    "clusterIP": one_of("None"),
    "ports": [{"name": ANY, "port": ANY, "targetPort": ANY, "protocol": one_of("TCP")}],
}
STEP_POD_FIELDS: Schema = POD_SPEC
# Kinds with no process to run, and why the replay leaves them to other checks.
NOT_REPRODUCED = {
    "NetworkPolicy": "not enforced (no CNI); analysed by nca in `make chart-test`",
    "Role": "no API server to authorise against",
    "RoleBinding": "no API server to authorise against",
    "HorizontalPodAutoscaler": "no metrics server; every workload runs one replica",
    "PodDisruptionBudget": "no voluntary evictions happen in a replay",
}
REPRODUCED_KINDS = ("Deployment", "StatefulSet", "Job", "Service", "ConfigMap", "Secret")


def _empty(value: Any) -> bool:
    return value is None or value is False or value == {} or value == [] or value == ""


def check(value: Any, schema: Schema, where: str, path: str) -> None:
    """Raise `NotReplayedError` for the first field of `value` outside `schema`."""
    if schema is ANY:
        return
    if callable(schema):
        problem = schema(value)
        if problem:
            raise NotReplayedError(where, path, problem)
        return
    if isinstance(schema, list):
        for i, item in enumerate(value or []):
            check(item, schema[0], where, f"{path}[{i}]")
        return
    if not isinstance(value, dict):
        raise NotReplayedError(where, path, f"expected an object, got {value!r}")
    for key, item in value.items():
        if key in schema:
            check(item, schema[key], where, f"{path}.{key}" if path else key)
        elif not _empty(item):
            raise NotReplayedError(where, f"{path}.{key}" if path else key, "is not replayed")


@dataclass
class Workload:
    """A Deployment, StatefulSet or Job as the replay runs it: one pod."""

    kind: str
    name: str
    spec: dict[str, Any]
    labels: dict[str, str]
    pod_spec: dict[str, Any]
    hook: str | None = None  # "pre-install" / "post-install"; None for a plain resource
    hook_weight: int = 0
    claims: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Service:
    name: str
    selector: dict[str, str]
    ports: list[dict[str, Any]]
    headless: bool


@dataclass
class Release:
    """The rendered objects of one `helm template`, sorted into what the replay needs."""

    namespace: str
    workloads: list[Workload]
    services: list[Service]
    configmaps: dict[str, dict[str, str]]
    secrets: dict[str, dict[str, str]]
    service_accounts: dict[str, dict[str, Any]]
    not_reproduced: list[str]
    # (level, version) of Pod Security Admission the namespace enforces (admission.py)
    pod_security: tuple[str, str] = UNLABELLED


def _install_hook(annotations: dict[str, str]) -> tuple[str | None, bool]:
    """(install phase, runs at install) from `helm.sh/hook`."""
    hooks = [h.strip() for h in annotations.get("helm.sh/hook", "").split(",") if h.strip()]
    if not hooks:
        return None, True
    for phase in ("pre-install", "post-install"):
        if phase in hooks:
            return phase, True
    return None, False  # an upgrade, rollback, delete or test hook: `helm install` skips it


def _pod_security(meta: dict[str, Any], namespace: str, where: str) -> tuple[str, str]:
    """The release's own Namespace: the Pod Security level it enforces, if the replay can."""
    if meta.get("name") != namespace:
        raise NotReplayedError(
            where, "metadata.name", f"only the release's namespace {namespace!r}"
        )
    labels = meta.get("labels") or {}
    level = labels.get(ENFORCE, UNLABELLED[0])
    version = labels.get(ENFORCE_VERSION, "latest")
    if level not in LEVELS:
        raise NotReplayedError(
            where, f"labels.{ENFORCE}", f"{level!r} is not enforced (only {LEVELS})"
        )
    if version not in VERSIONS:
        raise NotReplayedError(
            where, f"labels.{ENFORCE_VERSION}", f"{version!r} is not enforced (only {VERSIONS})"
        )
    return level, version


def load(objects: Iterable[dict[str, Any]], namespace: str) -> Release:
    """Check every object and sort it; raise `NotReplayedError` on the first field not replayed."""
    release = Release(namespace, [], [], {}, {}, {}, [])
    for obj in objects:
        kind, meta = obj["kind"], obj.get("metadata") or {}
        where = f"{kind}/{meta.get('name')}"
        check(meta, METADATA, where, "metadata")
        if kind in NOT_REPRODUCED:
            release.not_reproduced.append(f"{where}: {NOT_REPRODUCED[kind]}")
        elif kind in WORKLOAD_FIELDS:
            check(obj["spec"], WORKLOAD_FIELDS[kind], where, "spec")
            phase, runs = _install_hook(meta.get("annotations") or {})
            if not runs:
                release.not_reproduced.append(f"{where}: an upgrade hook, not run by an install")
                continue
            spec = obj["spec"]
            labels = spec["template"]["metadata"].get("labels") or {}
            selector = (spec.get("selector") or {}).get("matchLabels")
            if selector and any(labels.get(k) != v for k, v in selector.items()):
                raise NotReplayedError(where, "spec.selector", "does not match the pod labels")
            weight = int((meta.get("annotations") or {}).get("helm.sh/hook-weight", 0))
            claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates") or []]
            release.workloads.append(
                Workload(
                    kind,
                    meta["name"],
                    spec,
                    labels,
                    spec["template"]["spec"],
                    phase,
                    weight,
                    claims,
                )
            )
        elif kind == "Service":
            check(obj["spec"], SERVICE_FIELDS, where, "spec")
            release.services.append(
                Service(
                    meta["name"],
                    obj["spec"].get("selector") or {},
                    obj["spec"]["ports"],
                    obj["spec"].get("clusterIP") == "None",
                )
            )
        elif kind == "ConfigMap":
            check(obj, {"apiVersion": ANY, "kind": ANY, "metadata": ANY, "data": ANY}, where, "")
            release.configmaps[meta["name"]] = dict(obj.get("data") or {})
        elif kind == "Secret":
            allowed = {"apiVersion": ANY, "kind": ANY, "metadata": ANY, "type": one_of("Opaque")}
            check(obj, {**allowed, "data": ANY, "stringData": ANY}, where, "")
            values = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
            values.update(obj.get("stringData") or {})
            release.secrets[meta["name"]] = values
        elif kind == "ServiceAccount":
            release.service_accounts[meta["name"]] = obj
        elif kind == "Namespace":
            release.pod_security = _pod_security(meta, namespace, where)
        else:
            raise NotReplayedError(where, "kind", "is not replayed")
    return release
