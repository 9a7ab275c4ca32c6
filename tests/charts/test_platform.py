"""The umbrella chart as one system: step pods, RBAC, network flows, checkov."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import tools
import yaml

from pod_policy import restricted_violations

E2E = Path(__file__).resolve().parents[1] / "e2e"


def _by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _pod_labels(objects: list[dict]) -> dict[str, dict[str, str]]:
    """Workload name → the labels its pods carry."""
    return {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }


@pytest.fixture(scope="module")
def umbrella(render) -> list[dict]:
    return render.objects("occupancy")


@pytest.fixture(scope="module")
def step_pods(umbrella, airflow_home) -> list[dict[str, Any]]:
    """Every step pod the DAG factory renders with the scheduler's environment from the chart."""
    sys.path.insert(0, str(E2E))
    from pod_replay import render_step_pods

    scheduler = _by_kind(umbrella, "Deployment")["occ-airflow-scheduler"]
    env = {
        e["name"]: e["value"]
        for e in scheduler["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"].startswith("OCCUPANCY_") and "value" in e
    }
    assert env["OCCUPANCY_STEP_RUNNER"] == "kubernetes"
    with pytest.MonkeyPatch.context():
        pods = []
        for dag_id, task_id in (
            ("data_treatment_dag", "ingest"),
            ("data_treatment_dag", "treat"),
            ("train_pipeline_dag", "check_processed"),
            ("train_pipeline_dag", "train"),
            ("train_pipeline_dag", "promote"),
        ):
            pods += render_step_pods(dag_id, task_id, env)
    return pods


def test_step_pods_from_the_chart_environment_are_valid_and_restricted(step_pods, umbrella) -> None:
    assert len(step_pods) == 8  # ingest, treat, check, four families, promote
    configmaps, secrets = _by_kind(umbrella, "ConfigMap"), _by_kind(umbrella, "Secret")
    accounts = _by_kind(umbrella, "ServiceAccount")
    for pod in step_pods:
        kubernetes_validate.validate(pod, desired_version="1.33", strict=True)
        spec = pod["spec"]
        assert restricted_violations(spec) == []
        (container,) = spec["containers"]
        assert container["image"] == "occupancy-app:0.1.0"
        assert pod["metadata"]["namespace"] == "occupancy"
        # Everything the pod refers to is rendered by the chart.
        refs = container["envFrom"]
        assert refs[0]["configMapRef"]["name"] in configmaps
        assert refs[1]["secretRef"]["name"] in secrets
        assert spec["serviceAccountName"] in accounts
        step_env = configmaps[refs[0]["configMapRef"]["name"]]["data"]
        assert step_env["MLFLOW_TRACKING_URI"] == "http://occ-mlflow:5000"
        assert step_env["AWS_ENDPOINT_URL"] == "http://occ-minio:9000"
        assert set(secrets[refs[1]["secretRef"]["name"]]["stringData"]) == {
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        }


def test_the_scheduler_gets_exactly_what_kubernetes_pod_operator_needs(umbrella) -> None:
    assert not [o for o in umbrella if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    (role,) = _by_kind(umbrella, "Role").values()
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules == {
        (("",), ("pods",)): {"create", "get", "list", "watch", "patch", "delete"},
        (("",), ("pods/log",)): {"get"},
        (("",), ("events",)): {"list"},
    }
    (binding,) = _by_kind(umbrella, "RoleBinding").values()
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "occ-airflow-scheduler", "namespace": "occupancy"}
    ]
    scheduler = _by_kind(umbrella, "Deployment")["occ-airflow-scheduler"]["spec"]["template"]
    assert scheduler["spec"]["serviceAccountName"] == "occ-airflow-scheduler"


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _allows(rules: list[dict], peer_key: str, peer: dict[str, str], port: int) -> bool:
    for rule in rules:
        ports = [p["port"] for p in rule.get("ports") or []]
        if ports and port not in ports:
            continue
        peers = rule.get(peer_key)
        if not peers or any("podSelector" in p and _selects(p["podSelector"], peer) for p in peers):
            return True
    return False


def _flow_allowed(policies: list[dict], source: dict, target: dict, port: int) -> bool:
    """Both the source's egress and the target's ingress admit the flow (policies are additive)."""
    egress = [p for p in policies if _selects(p["spec"]["podSelector"], source)]
    ingress = [p for p in policies if _selects(p["spec"]["podSelector"], target)]
    out_ok = any(_allows(p["spec"].get("egress") or [], "to", target, port) for p in egress)
    in_ok = any(_allows(p["spec"].get("ingress") or [], "from", source, port) for p in ingress)
    return (out_ok or not egress) and (in_ok or not ingress)


def test_network_policies_deny_by_default_and_allow_the_architecture(umbrella, step_pods) -> None:
    policies = list(_by_kind(umbrella, "NetworkPolicy").values())
    pods = _pod_labels(umbrella)
    step = step_pods[0]["metadata"]["labels"]
    needed = [
        (pods["occ-api"], pods["occ-mlflow"], 5000),
        (pods["occ-mlflow"], pods["occ-postgres"], 5432),
        (pods["occ-mlflow"], pods["occ-minio"], 9000),
        (pods["occ-airflow-scheduler"], pods["occ-postgres"], 5432),
        (pods["occ-airflow-scheduler"], pods["occ-airflow-api-server"], 8080),
        (pods["occ-airflow-api-server"], pods["occ-airflow-scheduler"], 8793),
        (pods["occ-airflow-migrate-1"], pods["occ-postgres"], 5432),
        (pods["occ-mlflow-migrate"], pods["occ-postgres"], 5432),
        (pods["occ-minio-buckets"], pods["occ-minio"], 9000),
        (step, pods["occ-minio"], 9000),
        (step, pods["occ-mlflow"], 5000),
    ]
    for source, target, port in needed:
        assert _flow_allowed(policies, source, target, port), (source, target, port)
    forbidden = [
        (pods["occ-api"], pods["occ-postgres"], 5432),  # the API only talks to MLflow
        (pods["occ-api"], pods["occ-minio"], 9000),  # artifacts come through MLflow's proxy
        (step, pods["occ-postgres"], 5432),  # steps never touch a database directly
        (pods["occ-airflow-api-server"], pods["occ-minio"], 9000),
    ]
    for source, target, port in forbidden:
        assert not _flow_allowed(policies, source, target, port), (source, target, port)


def test_checkov_finds_nothing_beyond_the_documented_skips(helm, render, tmp_path) -> None:
    skips = yaml.safe_load((Path(__file__).parent / "checkov_skips.yaml").read_text())
    assert all(len(reason) > 40 for reason in skips.values())  # every skip says why
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    for chart in ("occupancy",):
        (rendered / f"{chart}.yaml").write_text(render.run(chart).stdout)
    done = subprocess.run(
        [
            tools.checkov(),
            "--directory",
            str(rendered),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--output",
            "json",
            "--skip-check",
            ",".join(skips),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 500
