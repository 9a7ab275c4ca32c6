"""The Helm charts, rendered: lint, Kubernetes 1.33 schema, restricted pods, labels, exact objects."""

from __future__ import annotations

import re
import subprocess

import kubernetes_validate
import pytest
import yaml
from chart_support import (
    ALL_SCENARIOS,
    CHARTS,
    CHARTS_DIR,
    cluster_values,
    pod_specs,
    scenario_id,
)

from pod_policy import restricted_violations

IDS = [scenario_id(c, s) for c, s in ALL_SCENARIOS]
STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/component",
)

POSTGRES = {"ConfigMap/occ-postgres-init", "Service/occ-postgres", "StatefulSet/occ-postgres"}
MINIO = {
    "ConfigMap/occ-minio-provision",
    "Job/occ-minio-buckets",
    "Service/occ-minio",
    "StatefulSet/occ-minio",
}
MLFLOW = {
    "Deployment/occ-mlflow",
    "Job/occ-mlflow-migrate",
    "Service/occ-mlflow",
    "NetworkPolicy/occ-mlflow",
}
AIRFLOW = {
    "ConfigMap/occ-airflow-step-env",
    *(
        f"Deployment/occ-airflow-{c}"
        for c in ("api-server", "dag-processor", "scheduler", "triggerer")
    ),
    "Job/occ-airflow-migrate-1",
    "Job/occ-airflow-seed",
    "Role/occ-airflow-pod-launcher",
    "RoleBinding/occ-airflow-pod-launcher",
    "Service/occ-airflow-api-server",
    "Service/occ-airflow-scheduler",
    "ServiceAccount/occ-airflow-scheduler",
    "ServiceAccount/occ-airflow-steps",
}
API = {"Deployment/occ-api", "PodDisruptionBudget/occ-api", "Service/occ-api"}
POLICIES = {
    "postgres": {"NetworkPolicy/occ-postgres"},
    "minio": {"NetworkPolicy/occ-minio", "NetworkPolicy/occ-minio-buckets"},
    "airflow": {
        f"NetworkPolicy/occ-airflow{suffix}"
        for suffix in ("", "-api-server", "-scheduler", "-steps", "-seed")
    },
    "api": {"NetworkPolicy/occ-api"},
}
GENERATED = {
    "postgres": {"Secret/occ-postgres"},
    "minio": {
        "Secret/occ-minio-credentials",
        "Secret/occ-minio-lake",
        "Secret/occ-minio-mlflow",
        "Secret/occ-minio-predictions",
    },
    "airflow": {"Secret/occ-airflow"},
    "api": {"Secret/occ-api"},
}
ALL_DEFAULT = (
    POSTGRES
    | MINIO
    | MLFLOW
    | AIRFLOW
    | API
    | {"HorizontalPodAutoscaler/occ-api"}
    | set().union(*POLICIES.values())
    | set().union(*GENERATED.values())
)
EXPECTED = {
    "postgres:default": POSTGRES | POLICIES["postgres"] | GENERATED["postgres"],
    "postgres:custom-values": POSTGRES,  # existing Secret, policies off
    "minio:default": MINIO | POLICIES["minio"] | GENERATED["minio"],
    "minio:custom-values": MINIO,
    "mlflow:default": MLFLOW,  # it creates no Secret: it reads the database's and the store's
    "mlflow:external-services-values": MLFLOW,
    "airflow:default": AIRFLOW | POLICIES["airflow"] | GENERATED["airflow"],
    "airflow:custom-values": AIRFLOW,
    "api:default": API | POLICIES["api"] | GENERATED["api"] | {"HorizontalPodAutoscaler/occ-api"},
    "api:fixed-replicas-values": API | POLICIES["api"],
    "occupancy:default": ALL_DEFAULT | {"NetworkPolicy/occ-default-deny"},
    "occupancy:no-network-policies-values": ALL_DEFAULT
    - {"NetworkPolicy/occ-mlflow"}
    - set().union(*POLICIES.values()),
    "occupancy:labelled-namespace-values": ALL_DEFAULT
    | {"NetworkPolicy/occ-default-deny", "Namespace/occupancy"},
    "occupancy:tagged-images-values": (ALL_DEFAULT | {"NetworkPolicy/occ-default-deny"})
    - {"HorizontalPodAutoscaler/occ-api"},
}


def test_every_scenario_has_an_expected_object_set() -> None:
    assert set(IDS) == set(EXPECTED)


@pytest.mark.parametrize(("chart", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_helm_lint_strict(helm, chart, scenario) -> None:
    command = [helm, "lint", "--strict", str(CHARTS_DIR / chart), *cluster_values(chart)]
    if scenario is not None:
        command += ["-f", str(scenario)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("chart", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_renders_exactly_the_expected_objects(render, chart, scenario) -> None:
    objects = render.objects(chart, scenario)
    names = {f"{o['kind']}/{o['metadata']['name']}" for o in objects}
    assert names == EXPECTED[scenario_id(chart, scenario)]
    assert len(names) == len(objects), "two objects share a kind and name"


@pytest.mark.parametrize(("chart", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_every_object_is_valid_kubernetes_1_33(render, chart, scenario) -> None:
    for obj in render.objects(chart, scenario):
        kubernetes_validate.validate(obj, desired_version="1.33", strict=True)


@pytest.mark.parametrize(("chart", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_every_object_carries_the_standard_labels(render, chart, scenario) -> None:
    for obj in render.objects(chart, scenario):
        labels = obj["metadata"].get("labels") or {}
        missing = [label for label in STANDARD_LABELS if label not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == "occ"
        if obj["kind"] == "Namespace":  # cluster-scoped: it is the release's namespace itself
            assert obj["metadata"]["name"] == "occupancy" and "namespace" not in obj["metadata"]
        else:
            assert obj["metadata"]["namespace"] == "occupancy"


@pytest.mark.parametrize(("chart", "scenario"), ALL_SCENARIOS, ids=IDS)
def test_every_pod_is_restricted_sized_and_pinned(render, chart, scenario) -> None:
    for name, spec in pod_specs(render.objects(chart, scenario)):
        assert restricted_violations(spec) == [], name
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        if not name.startswith("Job/"):
            for container in spec["containers"]:
                assert "livenessProbe" in container and "readinessProbe" in container, name
        if spec.get("automountServiceAccountToken") is not False:
            assert name == "Deployment/occ-airflow-scheduler", f"{name} mounts a token"


def test_selectors_use_only_stable_labels(render) -> None:
    for obj in render.objects("occupancy"):
        selector = (obj.get("spec") or {}).get("selector") or {}
        labels = selector.get("matchLabels", selector if obj["kind"] == "Service" else {})
        assert set(labels) <= {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }, obj["metadata"]["name"]


@pytest.mark.parametrize(
    ("chart", "typo", "named"),
    [
        ("postgres", "persistance.size=1Gi", "persistance"),
        ("minio", "image.tagg=x", "tagg"),
        ("mlflow", "replicass=2", "replicass"),
        ("airflow", "steps.familes={hgb}", "familes"),
        ("airflow", "resources.scheduler.limits.cpu=2", "resources"),  # now scheduler.resources
        ("airflow", "scheduler.probes.livenessProbe.exec=x", "exec"),  # the chart adds the check
        ("api", "autoscaling.maxReplica=3", "maxReplica"),
        ("occupancy", "networkPolicy.defaultDenyy=false", "defaultDenyy"),
        ("occupancy", "namespace.podSecurity=restricted", "podSecurity"),
        ("occupancy", "api.podDisruptionBudget.maxUnavailable=1", "maxUnavailable"),
    ],
)
def test_a_misspelled_value_is_rejected_with_its_name(render, chart, typo, named) -> None:
    done = render.run(chart, sets=(typo,))
    assert done.returncode != 0
    assert f"'{named}' not allowed" in done.stderr, done.stderr


def test_bad_values_are_reported_together(render) -> None:
    done = render.run(
        "api", sets=("autoscaling.minReplicas=9", "podDisruptionBudget.minAvailable=20")
    )
    assert done.returncode != 0
    assert "autoscaling.minReplicas (9) is above autoscaling.maxReplicas (5)" in done.stderr
    assert "podDisruptionBudget.minAvailable (20) must be below the replica count" in done.stderr


BREAKING_VALUES = [
    ("postgres", "databases:\n  - airflow\n  - postgres", 'databases lists "postgres"'),
    ("postgres", "databases:\n  - mlflow\n  - mlflow", 'databases lists "mlflow" more than once'),
    ("minio", "buckets:\n  - bad..name", '"bad..name" is not an S3 bucket name'),
    ("minio", "clientImage:\n  repository: ' '", "clientImage.repository is empty"),
    (
        "mlflow",
        "artifacts:\n  credentialsSecret: '{{ .Values.nothing }}'",
        "artifacts.credentialsSecret renders empty",
    ),
    (
        "airflow",
        "scheduler:\n  resources:\n    requests: {memory: 3Gi}",
        "scheduler.resources.requests.memory (3Gi) is above scheduler.resources.limits.memory (2Gi)",
    ),
    ("airflow", "steps:\n  secret: ' '", "steps.secret renders empty"),
    (
        "airflow",
        "networkPolicy:\n  kubeApiCidrs: []",
        "networkPolicy.kubeApiCidrs (airflow.networkPolicy.kubeApiCidrs in the occupancy chart) "
        "is empty",
    ),
    (
        "api",
        "resources:\n  requests: {cpu: 1500m}",
        "resources.requests.cpu (1500m) is above resources.limits.cpu (1)",
    ),
    (
        "occupancy",
        "postgres:\n  enabled: false",
        'airflow.database.host ("occ-postgres") names the bundled postgres',
    ),
]


@pytest.mark.parametrize(
    ("chart", "values", "message"), BREAKING_VALUES, ids=[f"{c}:{m}" for c, _, m in BREAKING_VALUES]
)
def test_values_that_would_break_a_chart_are_refused_by_its_validation(
    render, tmp_path, chart, values, message
) -> None:
    scenario = tmp_path / "values.yaml"
    scenario.write_text(values)
    done = render.run(chart, scenario)
    assert done.returncode != 0
    assert f"{chart}/templates/validate-values.yaml" in done.stderr, done.stderr
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize("chart", CHARTS)
def test_each_chart_validates_its_values_in_one_template(chart) -> None:
    template = CHARTS_DIR / chart / "templates" / "validate-values.yaml"
    assert template.read_text().strip() == f'{{{{- include "{chart}.validateValues" . }}}}'


def test_shared_wiring_is_spelled_only_in_the_common_chart() -> None:
    """Client labels, the DNS egress rule and the existing-Secret fallback come from charts/common."""
    spelled = re.compile(r"occupancy\.io/|port: 53\b|default .*\.Values\.auth\.existingSecret")
    for chart in CHARTS:
        for template in (CHARTS_DIR / chart / "templates").iterdir():
            found = spelled.findall(template.read_text())
            assert not found, f"{template.relative_to(CHARTS_DIR)}: {found}"


def test_airflow_component_blocks_set_their_containers_resources_and_probe_timings(
    render,
) -> None:
    objects = render.objects(
        "airflow",
        sets=(
            "dagProcessor.resources.limits.memory=3Gi",
            "scheduler.probes.livenessProbe.periodSeconds=30",
            "apiServer.probes.startupProbe.failureThreshold=10",
        ),
    )
    containers = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert containers["occ-airflow-dag-processor"]["resources"]["limits"]["memory"] == "3Gi"
    liveness = containers["occ-airflow-scheduler"]["livenessProbe"]
    assert liveness["periodSeconds"] == 30
    assert liveness["exec"]["command"][-3:] == ["--job-type", "SchedulerJob", "--local"]
    startup = containers["occ-airflow-api-server"]["startupProbe"]
    assert startup == {
        "httpGet": {"path": "/api/v2/monitor/health", "port": "http"},
        "periodSeconds": 5,
        "failureThreshold": 10,
    }


def test_no_password_lives_in_values_and_secrets_are_generated(render) -> None:
    def secret_keys(node: object, path: str = "") -> list[str]:
        """Keys that would hold a secret value (names of Secrets and their keys are fine)."""
        if not isinstance(node, dict):
            return []
        found = []
        for key, value in node.items():
            name = key.lower()
            if any(w in name for w in ("password", "token", "fernet")) and not name.endswith(
                ("secret", "key")
            ):
                found.append(f"{path}{key}")
            found += secret_keys(value, f"{path}{key}.")
        return found

    for chart in CHARTS:
        values = yaml.safe_load((CHARTS_DIR / chart / "values.yaml").read_text())
        assert secret_keys(values) == [], chart
    first = {o["metadata"]["name"]: o for o in render.objects("occupancy") if o["kind"] == "Secret"}
    again = render.run("occupancy").stdout
    for name, secret in first.items():
        for value in secret["stringData"].values():
            assert len(value) >= 16, name
            assert value not in again, f"{name}: the same value twice means it is not random"
    fernet = first["occ-airflow"]["stringData"]["fernet-key"]
    import base64

    assert len(base64.urlsafe_b64decode(fernet)) == 32


def test_images_are_wired_from_values(render) -> None:
    from chart_support import scenarios

    tagged = next(s for s in scenarios("occupancy") if s is not None and "tagged" in s.stem)
    objects = render.objects("occupancy", tagged)
    images = {
        c["image"]
        for _, spec in pod_specs(objects)
        for c in [*spec.get("initContainers", []), *spec["containers"]]
    }
    assert {
        "registry.example/occupancy-mlflow:abc123",
        "registry.example/occupancy-airflow:abc123",
        "registry.example/occupancy-app:abc123",
    } <= images
    scheduler = next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "occ-airflow-scheduler"
    )
    env = {
        e["name"]: e.get("value")
        for e in scheduler["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["OCCUPANCY_STEP_IMAGE"] == "registry.example/occupancy-app:abc123"


def test_the_namespace_switch_makes_the_release_namespace_enforce_the_restricted_profile(
    render,
) -> None:
    assert not [o for o in render.objects("occupancy") if o["kind"] == "Namespace"]
    labelled = CHARTS_DIR / "occupancy" / "ci" / "labelled-namespace-values.yaml"
    (namespace,) = [o for o in render.objects("occupancy", labelled) if o["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    assert {key: value for key, value in labels.items() if "pod-security" in key} == {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.33",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.33",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.33",
    }
    # An uninstall (or an Argo CD prune) must not take the namespace, and its volumes, with it.
    assert namespace["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pinned = render.objects("occupancy", labelled, sets=("namespace.podSecurityVersion=latest",))
    (namespace,) = [o for o in pinned if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] == "latest"


def test_without_the_kubernetes_api_address_the_chart_says_how_to_find_it(render) -> None:
    for chart in ("occupancy", "airflow"):
        done = subprocess.run(
            [render.helm, "template", "occ", str(CHARTS_DIR / chart), "-n", "occupancy"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode != 0
        assert (
            "networkPolicy.kubeApiCidrs (airflow.networkPolicy.kubeApiCidrs in the occupancy "
            "chart) is empty" in done.stderr
        ), done.stderr
        assert "kubectl get endpointslices -n default" in done.stderr
        assert "kubectl get service kubernetes -n default" in done.stderr
    # Without NetworkPolicies there is nothing to narrow, and nothing is asked.
    policies_off = render.run("airflow", sets=("networkPolicy.enabled=false",))
    assert policies_off.returncode == 0, policies_off.stderr


def test_the_kubernetes_api_cidrs_must_be_cidrs(render) -> None:
    done = render.run("airflow", sets=("networkPolicy.kubeApiCidrs={172.18.0.2}",))
    assert done.returncode != 0
    assert "kubeApiCidrs" in done.stderr and "172.18.0.2" in done.stderr, done.stderr


def test_the_notes_name_the_secret_and_how_to_label_the_namespace(helm) -> None:
    done = subprocess.run(
        [
            helm, "install", "occ", str(CHARTS_DIR / "occupancy"), "-n", "occupancy",
            "--dry-run=client", *cluster_values("occupancy"),
            "--set", "airflow.auth.existingSecret=team-airflow-keys",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    notes = done.stdout.partition("NOTES:")[2]
    assert "kubectl get secret team-airflow-keys -n occupancy" in notes
    # No cluster to look the namespace up in: the notes say how to label it.
    assert "does not enforce the restricted profile" in notes
    assert "--show-only templates/namespace.yaml | kubectl apply -f -" in notes
    assert "pods/portforward" in notes
