"""The umbrella chart as one system: step pods, RBAC, network flows (nca), checkov."""

from __future__ import annotations

import ipaddress
import json
import re
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


@pytest.fixture(scope="module")
def umbrella(render) -> list[dict]:
    return render.objects("occupancy")


@pytest.fixture(scope="module")
def step_pods(umbrella, airflow_home) -> list[dict[str, Any]]:
    """Every step pod the DAG factory renders with the scheduler's environment from the chart."""
    sys.path.insert(0, str(E2E))
    from pod_replay import STEP_TASKS, render_step_pods, scheduler_step_env

    env = scheduler_step_env(umbrella, "occ-airflow-scheduler")
    return [pod for dag_id, task_id in STEP_TASKS for pod in render_step_pods(dag_id, task_id, env)]


def test_step_pods_from_the_chart_environment_are_valid_and_restricted(step_pods, umbrella) -> None:
    assert len(step_pods) == 9  # ingest, treat, combine, check, four families, promote
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
        # The XCom sidecar of a step that returns a result is read by exec (monitoring's report).
        (("",), ("pods/exec",)): {"create", "get"},
        (("",), ("events",)): {"list"},
    }
    (binding,) = _by_kind(umbrella, "RoleBinding").values()
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "occ-airflow-scheduler", "namespace": "occupancy"}
    ]
    scheduler = _by_kind(umbrella, "Deployment")["occ-airflow-scheduler"]["spec"]["template"]
    assert scheduler["spec"]["serviceAccountName"] == "occ-airflow-scheduler"


# -- Object storage identities ----------------------------------------------------------------
# Four S3 identities: root (the MinIO server and the bucket Job only), lake (the step pods),
# mlflow (the tracking server only) and predictions (the API's prediction log only). Everything
# else gets no S3 key at all.

ROOT_SECRET, LAKE_SECRET, MLFLOW_SECRET, PREDICTIONS_SECRET = (
    "occ-minio-credentials",
    "occ-minio-lake",
    "occ-minio-mlflow",
    "occ-minio-predictions",
)
IDENTITY_SECRETS = {ROOT_SECRET, LAKE_SECRET, MLFLOW_SECRET, PREDICTIONS_SECRET}
SEED_JOB = "Job/occ-airflow-seed"  # the step image with the lake identity, not an Airflow pod


def _secrets_read(pod_spec: dict[str, Any]) -> set[str]:
    """Every Secret a pod reads, through env, envFrom or a volume."""
    found = set()
    for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
        for item in container.get("env", []):
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                found.add(ref["name"])
        found |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
    found |= {v["secret"]["secretName"] for v in pod_spec.get("volumes", []) if "secret" in v}
    return found


def _aws_variables(pod_spec: dict[str, Any]) -> set[str]:
    return {
        item["name"]
        for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]
        for item in container.get("env", [])
        if item["name"].startswith("AWS_") or item["name"].startswith("MINIO_ROOT")
    }


def test_each_s3_identity_reaches_only_the_pods_that_need_it(umbrella, step_pods) -> None:
    from chart_support import pod_specs

    readers: dict[str, set[str]] = {secret: set() for secret in IDENTITY_SECRETS}
    for workload, spec in pod_specs(umbrella):
        for secret in _secrets_read(spec) & set(readers):
            readers[secret].add(workload)
    for pod in step_pods:
        for secret in _secrets_read(pod["spec"]) & set(readers):
            readers[secret].add(f"step/{pod['metadata']['labels'].get('task_id', 'step')}")
    assert readers[ROOT_SECRET] == {"StatefulSet/occ-minio", "Job/occ-minio-buckets"}
    # The bucket Job provisions the identities, so it holds their keys too. MLflow's migration
    # Job only talks to PostgreSQL.
    assert readers[MLFLOW_SECRET] == {"Deployment/occ-mlflow", "Job/occ-minio-buckets"}
    assert readers[PREDICTIONS_SECRET] == {"Deployment/occ-api", "Job/occ-minio-buckets"}
    assert "Job/occ-minio-buckets" in readers[LAKE_SECRET]
    # Besides the step pods: the bucket Job, and the seed Job, which puts the first raw file
    # where ingest pods read it.
    assert {r for r in readers[LAKE_SECRET] if not r.startswith("step/")} == {
        "Job/occ-minio-buckets",
        SEED_JOB,
    }
    assert len([r for r in readers[LAKE_SECRET] if r.startswith("step/")]) >= 1
    assert all(pod["spec"]["containers"][0]["envFrom"][1]["secretRef"]["name"] == LAKE_SECRET
               for pod in step_pods)  # fmt: skip


def test_airflow_gets_no_s3_keys_and_the_api_only_the_prediction_logs(umbrella) -> None:
    from chart_support import pod_specs

    specs = dict(pod_specs(umbrella))
    keyless = [w for w in specs if w.split("/")[1].startswith("occ-airflow") and w != SEED_JOB]
    assert len(keyless) >= 5  # four Airflow components, the migration Job
    for workload in keyless:
        assert _aws_variables(specs[workload]) == set(), workload
        assert _secrets_read(specs[workload]) & IDENTITY_SECRETS == set()
    api = specs["Deployment/occ-api"]
    assert _secrets_read(api) & IDENTITY_SECRETS == {PREDICTIONS_SECRET}
    api_env = {item["name"]: item for item in api["containers"][0]["env"]}
    assert api_env["OCCUPANCY_PREDICTION_LOG"]["value"] == "true"
    assert api_env["OCCUPANCY_PREDICTION_LOG_URI"]["value"] == "s3://occupancy-predictions"
    keys = {
        n: api_env[n]["valueFrom"]["secretKeyRef"]
        for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    assert {ref["name"] for ref in keys.values()} == {PREDICTIONS_SECRET}
    scheduler_env = {
        item["name"]: item.get("value")
        for item in specs["Deployment/occ-airflow-scheduler"]["containers"][0]["env"]
    }
    # The scheduler only names the lake Secret for the pods it launches; its Role grants pods,
    # pods/log and events, no secrets verb (a pod it starts could still mount any Secret: the
    # README's Security section says so).
    assert scheduler_env["OCCUPANCY_STEP_SECRET"] == LAKE_SECRET


def test_the_bucket_job_confines_each_identity_to_its_bucket(umbrella) -> None:
    configmaps = _by_kind(umbrella, "ConfigMap")
    script = configmaps["occ-minio-provision"]["data"]["provision.sh"]
    assert script == (tools.ROOT / "charts/minio/files/provision.sh").read_text()
    job = _by_kind(umbrella, "Job")["occ-minio-buckets"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["command"] == ["/bin/sh", "/provision/provision.sh"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LAKE_BUCKET"]["value"] == "occupancy-lake"
    assert env["MLFLOW_BUCKET"]["value"] == "mlflow-artifacts"
    assert env["LAKE_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == LAKE_SECRET
    assert env["MLFLOW_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == MLFLOW_SECRET
    assert env["PREDICTIONS_BUCKET"]["value"] == "occupancy-predictions"
    assert env["PREDICTIONS_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == PREDICTIONS_SECRET
    assert set(env["BUCKETS"]["value"].split()) == {
        "occupancy-lake",
        "mlflow-artifacts",
        "occupancy-predictions",
    }


def test_the_api_chart_can_turn_the_prediction_log_off(render) -> None:
    from chart_support import pod_specs

    specs = dict(pod_specs(render.objects("api", sets=("predictionLog.enabled=false",))))
    api = specs["Deployment/occ-api"]
    env = {item["name"]: item.get("value") for item in api["containers"][0]["env"]}
    assert env["OCCUPANCY_PREDICTION_LOG"] == "false"
    assert _aws_variables(api) == set() and _secrets_read(api) == {"occ-api"}


def test_identity_secrets_can_be_existing_ones_and_must_name_a_provisioned_bucket(render) -> None:
    sets = (
        "minio.identities.lake.existingSecret=my-lake",
        "minio.identities.mlflow.existingSecret=my-art",
        "minio.identities.predictions.existingSecret=my-log",
    )
    done = render.run("occupancy", sets=sets)
    assert done.returncode != 0
    assert 'airflow.steps.secret ("occ-minio-lake") must name minio.identities.lake' in done.stderr
    assert 'mlflow.artifacts.credentialsSecret ("occ-minio-mlflow") must name' in done.stderr
    assert 'api.predictionLog.credentialsSecret ("occ-minio-predictions") must name' in done.stderr
    sets += (
        "airflow.steps.secret=my-lake",
        "mlflow.artifacts.credentialsSecret=my-art",
        "api.predictionLog.credentialsSecret=my-log",
    )
    objects = render.objects("occupancy", sets=sets)
    assert not {LAKE_SECRET, MLFLOW_SECRET, PREDICTIONS_SECRET} & set(_by_kind(objects, "Secret"))
    job = _by_kind(objects, "Job")["occ-minio-buckets"]["spec"]["template"]["spec"]
    assert {"my-lake", "my-art", "my-log"} <= _secrets_read(job)
    done = render.run("minio", sets=("identities.lake.bucket=elsewhere",))
    assert done.returncode != 0
    assert 'identities.lake.bucket: "elsewhere" is not one of buckets' in done.stderr


# -- Network flows ---------------------------------------------------------------------------------
# IBM's network-config-analyzer (nca) computes, from the rendered NetworkPolicies and the labels of
# every pod, which connections Kubernetes semantics allow. The test compares its whole table with
# the architecture's, written below as data: a flow nobody expects, or a needed one that is missing,
# fails with a diff. nca analyses policies; it does not enforce them (kind's CNI does, on a cluster).

ANYWHERE = "0.0.0.0/0"  # any address that is not a pod
OTHER_NS = "kube-system/coredns"  # a pod of another namespace, and where cluster DNS answers
OUTSIDE = (ANYWHERE, OTHER_NS)
# The Kubernetes API as tests/charts/cluster/occupancy.yaml gives it (kind: the `kubernetes`
# Service's ClusterIP and the control-plane node), i.e. what `make deploy` reads from the cluster.
KUBE_API = ("10.96.0.1/32", "172.18.0.2/32")
SCHEDULER = "occ-airflow-scheduler"
AIRFLOW = (
    "occ-airflow-api-server",
    "occ-airflow-dag-processor",
    SCHEDULER,
    "occ-airflow-triggerer",
    "occ-airflow-migrate-1",
)
# The cluster around the release: its namespaces and CoreDNS as kind (kubeadm) runs it.
CLUSTER: list[dict[str, Any]] = [
    *(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
        }
        for ns in ("occupancy", "kube-system")
    ),
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "coredns",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns"},
        },
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {"containers": [{"name": "coredns", "image": "coredns"}]},
            },
        },
    },
]

Flow = tuple[tuple[str, ...], tuple[str, ...], frozenset[str], str]


def _tcp(*ports: int) -> frozenset[str]:
    return frozenset(f"TCP/{port}" for port in ports)


DNS = frozenset({"TCP/53", "UDP/53"})


def _step_name(pod: dict[str, Any]) -> str:
    """A stable name for a step pod (KubernetesPodOperator adds a random suffix)."""
    args = pod["spec"]["containers"][0]["args"]
    model = [args[args.index("--model") + 1]] if "--model" in args else []
    return "-".join(["step", args[1], *model])


def expected_flows(steps: tuple[str, ...]) -> tuple[list[Flow], list[Flow]]:
    """(needed, accepted-but-wider-than-needed) flows: (sources, destinations, connections, why)."""
    dns_clients = (
        *AIRFLOW,
        "occ-api",
        "occ-mlflow",
        "occ-mlflow-migrate",
        "occ-minio-buckets",
        "occ-airflow-seed",
        *steps,
    )
    needed: list[Flow] = [
        (OUTSIDE, ("occ-airflow-api-server",), _tcp(8080), "Airflow UI and REST API"),
        (OUTSIDE, ("occ-api",), _tcp(8000), "prediction API (the public service)"),
        (
            (SCHEDULER,),
            ("occ-airflow-api-server",),
            _tcp(8080),
            "execution API: LocalExecutor tasks run in the scheduler pod "
            "(the dag-processor and triggerer serve it in-process)",
        ),
        (
            ("occ-airflow-api-server",),
            (SCHEDULER,),
            _tcp(8793),
            "task logs served by the scheduler",
        ),
        (AIRFLOW, ("occ-postgres",), _tcp(5432), "Airflow metadata database (+ migration Job)"),
        (
            (SCHEDULER,),
            KUBE_API,
            _tcp(443, 6443),
            "Kubernetes API (airflow.networkPolicy.kubeApiCidrs): KubernetesPodOperator",
        ),
        (("occ-api",), ("occ-mlflow",), _tcp(5000), "the API loads and polls @champion"),
        (("occ-api",), ("occ-minio",), _tcp(9000), "the API writes the prediction log"),
        (
            ("occ-mlflow", "occ-mlflow-migrate"),
            ("occ-postgres",),
            _tcp(5432),
            "MLflow backend store (+ migration Job)",
        ),
        (("occ-mlflow",), ("occ-minio",), _tcp(9000), "MLflow artifact proxy → S3"),
        (("occ-minio-buckets",), ("occ-minio",), _tcp(9000), "bucket provisioning Job"),
        (("occ-airflow-seed",), ("occ-minio",), _tcp(9000), "seed Job: the first raw file"),
        (steps, ("occ-minio",), _tcp(9000), "step pods read and write the lake"),
        (steps, ("occ-mlflow",), _tcp(5000), "step pods track runs and register models"),
        (dns_clients, (OTHER_NS,), DNS, "cluster DNS (global.networkPolicy.dnsPeers)"),
    ]
    wider: list[Flow] = [
        (
            ("occ-api", *steps),
            ("occ-mlflow-migrate",),
            _tcp(5000),
            "WIDER: MLflow's policy selects its migration Job with the server (nothing listens)",
        ),
    ]
    return needed, wider


def _forbidden(steps: tuple[str, ...]) -> list[tuple[str, str, str | None, str]]:
    """(source, destination, connection or None for any, why) that must never be allowed."""
    release = (
        *AIRFLOW,
        "occ-api",
        "occ-mlflow",
        "occ-mlflow-migrate",
        "occ-minio",
        "occ-minio-buckets",
        "occ-airflow-seed",
    )
    release += ("occ-postgres", *steps)
    rules: list[tuple[str, str, str | None, str]] = [
        ("occ-api", "occ-postgres", None, "the API only talks to MLflow"),
        ("occ-airflow-api-server", "occ-minio", None, "Airflow never reads the lake itself"),
    ]
    rules += [(step, "occ-postgres", None, "steps never touch a database") for step in steps]
    rules += [
        (step, SCHEDULER, None, "nothing reaches back into Airflow from a step") for step in steps
    ]
    rules += [
        (peer, step, None, "nothing connects to a step pod") for step in steps for peer in OUTSIDE
    ]
    rules += [
        (peer, target, None, "not a user-facing port")
        for peer in OUTSIDE
        for target in ("occ-postgres", "occ-minio", "occ-mlflow", SCHEDULER)
    ]
    rules += [
        (pod, api, None, "only the scheduler talks to the Kubernetes API")
        for pod in release
        if pod != SCHEDULER
        for api in KUBE_API
    ]
    rules += [
        (pod, ANYWHERE, None, "no pod reaches any address outside the cluster") for pod in release
    ]
    return rules


def _table(flows: list[Flow]) -> dict[tuple[str, str], set[str]]:
    table: dict[tuple[str, str], set[str]] = {}
    for sources, destinations, connections, _ in flows:
        for source in sources:
            for destination in destinations:
                table.setdefault((source, destination), set()).update(connections)
    return table


def _endpoint(text: str) -> str:
    """nca's endpoint name → ours: `occupancy/occ-api[Deployment]` → `occ-api`, IP ranges → CIDRs."""
    text = re.sub(r"\[[A-Za-z]+\]$", "", text)
    if text.startswith("occupancy/"):
        return text.removeprefix("occupancy/")
    if re.fullmatch(r"[0-9.]+(-[0-9.]+)?", text):
        first, _, last = text.partition("-")
        nets = ipaddress.summarize_address_range(
            ipaddress.IPv4Address(first), ipaddress.IPv4Address(last or first)
        )
        return ",".join(str(net) for net in nets)
    return text


_CONNECTION = re.compile(
    r"\{protocols:(?P<protocols>[A-Z]+(?:, ?[A-Z]+)*)(?:,dst_ports:(?P<ports>[0-9,-]+))?\}"
)


def _connections(text: str) -> set[str]:
    """`{protocols:TCP, UDP,dst_ports:53}` → {"TCP/53", "UDP/53"}; anything else kept verbatim."""
    if text.strip() == "All connections":
        return {"all"}
    found = set()
    rest = text
    for match in _CONNECTION.finditer(text):
        rest = rest.replace(match.group(0), "", 1)
        ports = (match.group("ports") or "*").split(",")
        for protocol in re.split(r", ?", match.group("protocols")):
            found.update(f"{protocol}/{port}" for port in ports)
    if rest.strip(" ,"):
        found.add(text.strip())  # a form this parser does not know: shown whole in the diff
    return found


def parse_connectivity(output: str) -> dict[tuple[str, str], set[str]]:
    """nca's `txt_no_fw_rules` lines `src => dst : connections`, merged per (source, destination).

    Pairs of which neither end is in the release's namespace (CoreDNS and the internet) are left
    out: no policy of ours is about them.
    """
    table: dict[tuple[str, str], set[str]] = {}
    for line in output.splitlines():
        if " => " not in line:
            continue
        pair, _, connections = line.partition(" : ")
        source, _, destination = pair.partition(" => ")
        if not (source.startswith("occupancy/") or destination.startswith("occupancy/")):
            continue
        key = (_endpoint(source.strip()), _endpoint(destination.strip()))
        table.setdefault(key, set()).update(_connections(connections))
    return table


def _covers(granted: str, connection: str) -> bool:
    if granted == "all" or granted == connection:
        return True
    protocol, _, ports = granted.partition("/")
    want_protocol, _, want_port = connection.partition("/")
    if protocol != want_protocol or "-" not in ports:
        return ports == "*" and protocol == want_protocol
    low, high = ports.split("-")
    return int(low) <= int(want_port) <= int(high)


def run_nca(objects: list[dict], workdir: Path) -> str:
    """nca's connectivity map (one line per workload pair) of the objects in a cluster with DNS."""
    rendered = workdir / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all([*CLUSTER, *objects], sort_keys=False))
    done = subprocess.run(
        [
            tools.nca(),
            "--connectivity",
            "--resource_list",
            str(rendered),
            "--output_format",
            "txt_no_fw_rules",
            "--output_endpoints",
            "deployments",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " => " in done.stdout, done.stdout + done.stderr
    return done.stdout


def _named_steps(step_pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pods = []
    for pod in step_pods:
        pod = json.loads(json.dumps(pod))
        pod["metadata"]["name"] = _step_name(pod)
        pods.append(pod)
    return pods


def _connection_order(connection: str) -> tuple[str, int, str]:
    protocol, _, port = connection.partition("/")
    return (protocol, int(port) if port.isdigit() else -1, port)


def _markdown(
    actual: dict[tuple[str, str], set[str]], why: dict[tuple[str, str], str], raw: str
) -> str:
    lines = [
        "# Connectivity the NetworkPolicies allow (nca, umbrella chart defaults + step pods)",
        "",
        f"`nca --connectivity` ({tools.NCA}); `{ANYWHERE}`: any address that is not a pod;",
        f"`{OTHER_NS}`: any pod of another namespace (and cluster DNS). Everything else is denied.",
        "",
        "| source | destination | connections | why |",
        "| --- | --- | --- | --- |",
    ]
    for (source, destination), connections in sorted(actual.items()):
        reason = why.get((source, destination), "**NOT EXPECTED**")
        shown = " ".join(sorted(connections, key=_connection_order))
        lines.append(f"| {source} | {destination} | {shown} | {reason} |")
    lines += ["", "nca's own output:", "", "```", raw.strip(), "```", ""]
    return "\n".join(lines)


def test_nca_connectivity_is_exactly_the_architecture(umbrella, step_pods, tmp_path) -> None:
    pods = _named_steps(step_pods)
    steps = tuple(sorted({pod["metadata"]["name"] for pod in pods}))
    assert len(steps) == len(pods) == 9
    raw = run_nca([*umbrella, *pods], tmp_path)
    actual = parse_connectivity(raw)
    needed, wider = expected_flows(steps)
    expected = _table(needed + wider)
    why: dict[tuple[str, str], str] = {}
    for sources, destinations, _, reason in needed + wider:
        for pair in ((s, d) for s in sources for d in destinations):
            why[pair] = f"{why[pair]}; {reason}" if pair in why else reason
    report = tools.ROOT / ".occupancy" / "results" / "connectivity.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(_markdown(actual, why, raw))

    forbidden = [
        f"{source} => {destination} : {connection or 'anything'} ({reason})"
        for source, destination, connection, reason in _forbidden(steps)
        if (granted := actual.get((source, destination)))
        and (connection is None or any(_covers(g, connection) for g in granted))
    ]
    diff = []
    for pair in sorted(set(actual) | set(expected)):
        for sign, more, than, meaning in (
            ("+", actual, expected, "allowed, not expected"),
            ("-", expected, actual, "needed, denied"),
        ):
            if delta := more.get(pair, set()) - than.get(pair, set()):
                shown = " ".join(sorted(delta, key=_connection_order))
                diff.append(f"{sign} {pair[0]} => {pair[1]} : {shown}   ({meaning})")
    assert not forbidden and not diff, (
        f"nca's connectivity differs from the architecture (full table: {report}):\n"
        + "\n".join(["forbidden flows allowed:", *forbidden] if forbidden else [])
        + ("\n" if forbidden else "")
        + "\n".join(diff)
    )


def test_only_the_scheduler_reaches_the_kubernetes_api_and_only_at_the_cidrs_given(
    render, tmp_path
) -> None:
    objects = render.objects(
        "occupancy", sets=("airflow.networkPolicy.kubeApiCidrs={192.0.2.0/28}",)
    )
    actual = parse_connectivity(run_nca(objects, tmp_path))
    addresses = {
        (source, destination): granted
        for (source, destination), granted in actual.items()
        if re.match(r"[0-9]", destination)
    }
    assert addresses == {(SCHEDULER, "192.0.2.0/28"): _tcp(443, 6443)}


def test_dns_goes_to_the_peers_given_and_an_empty_list_opens_port_53(render, tmp_path) -> None:
    node_local = render.objects(
        "occupancy", sets=("global.networkPolicy.dnsPeers[0].ipBlock.cidr=169.254.20.10/32",)
    )
    actual = parse_connectivity(run_nca(node_local, tmp_path))
    assert actual[("occ-api", "169.254.20.10/32")] == DNS
    assert ("occ-api", OTHER_NS) not in actual
    no_peers = tmp_path / "no-dns-peers.yaml"
    no_peers.write_text("global: {networkPolicy: {dnsPeers: []}}\n")
    actual = parse_connectivity(run_nca(render.objects("occupancy", no_peers), tmp_path))
    assert actual[("occ-api", ANYWHERE)] == DNS


def _bystander(name: str, namespace: str, labels: dict[str, str]) -> list[dict[str, Any]]:
    """A Deployment that is not the release's, with the labels given (and its Namespace)."""
    pod_labels = {"app": name, **labels}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": {"containers": [{"name": name, "image": "curl"}]},
                },
            },
        },
    ]


def test_mlflow_is_reachable_only_from_the_release_s_labelled_clients(
    umbrella, step_pods, tmp_path
) -> None:
    """No port-forward-free way in: an unlabelled pod of the namespace, a pod that claims to be a
    client without being the release's, and a client-labelled pod of another namespace are all
    refused; the API and the step pods are admitted, on 5000 only."""
    client = {"occupancy.io/mlflow-client": "true"}
    strangers = [
        *_bystander("intruder", "occupancy", {}),
        *_bystander("impostor", "occupancy", client),
        *_bystander("neighbour", "elsewhere", {**client, "app.kubernetes.io/instance": "occ"}),
    ]
    (service,) = [
        o for o in umbrella if o["kind"] == "Service" and o["metadata"]["name"] == "occ-mlflow"
    ]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    pods = _named_steps(step_pods)
    actual = parse_connectivity(run_nca([*umbrella, *pods, *strangers], tmp_path))
    callers = {
        source: granted for (source, dest), granted in actual.items() if dest == "occ-mlflow"
    }
    steps = {pod["metadata"]["name"] for pod in pods}
    assert set(callers) == {"occ-api", *steps}
    assert all(granted == _tcp(5000) for granted in callers.values())


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


def test_step_pods_reach_the_internet_only_where_download_egress_says(render) -> None:
    """Off by default (no address outside the cluster); set, a URL's host on 443/80 only."""
    policies = _by_kind(render.objects("airflow"), "NetworkPolicy")
    egress = policies["occ-airflow-steps"]["spec"]["egress"]
    assert all("ipBlock" not in peer for rule in egress for peer in rule.get("to", []))
    internet = "steps.downloadEgress[0].ipBlock.cidr=0.0.0.0/0"
    rendered = render.objects("airflow", sets=(internet,))
    egress = _by_kind(rendered, "NetworkPolicy")["occ-airflow-steps"]["spec"]["egress"]
    (download,) = [r for r in egress if any("ipBlock" in p for p in r.get("to", []))]
    assert download["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert download["ports"] == [{"port": 443}, {"port": 80}]
