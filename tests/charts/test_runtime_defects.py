"""Runtime defects of the Kubernetes mode, each proved on the rendered objects or the real code.

What a cluster would show (README, Kubernetes section, "Troubleshooting"): a login that the
auth manager does not know, task logs that cannot be fetched, `make deploy` refusing an
all-digit git sha or timing out on hooks, MLflow refusing a port-forward, passwords lost after a
reinstall, training pods stuck Pending on a laptop. No cluster runs here: every test executes what
a container would execute (the rendered command, Airflow's or MLflow's own code from the venv).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tools
import yaml
from chart_support import CHARTS, pod_specs

from pod_policy import restricted_violations

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DAGS_FOLDER = tools.ROOT / "dags"


@pytest.fixture(scope="module")
def umbrella(render) -> list[dict]:
    return render.objects("occupancy")


def _named(objects: list[dict], kind: str, name: str) -> dict:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _env(container: dict) -> dict[str, str]:
    """The container's plain (not secret-referenced) environment."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _run_python(code: str, env: dict[str, str], home: Path) -> Any:
    """Run code with the venv's interpreter in a clean Airflow environment; its last line, parsed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OCCUPANCY_"))}
    clean |= {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", **env}
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- 1. Airflow logs in through FAB: the migration Job makes the admin, from the Secret ----------

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
MIGRATION_JOB = "occ-airflow-migrate-1"


def _kubelet_env(container: dict, secrets: dict[str, dict]) -> dict[str, str]:
    """The container's environment with every Secret reference read from the rendered Secrets."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return env


def _run_migration_job(job: dict, secrets: dict[str, dict], home: Path) -> None:
    """The Job's own command with its env, on SQLite instead of PostgreSQL, the venv's airflow."""
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = _kubelet_env(container, secrets) | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    }
    done = subprocess.run(
        [*container.get("command", []), *container["args"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _fab_logins(server: dict, secrets: dict[str, dict], home: Path, tries: dict) -> dict:
    """POST /auth/token on the api-server's app, built from the api-server's env: status per try."""
    env = _kubelet_env(server, secrets) | {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"
    }
    return _run_python(
        f"""
import json
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app
client = TestClient(create_app())
tries = {tries!r}
print(json.dumps({{name: client.post("/auth/token", json=body).status_code for name, body in tries.items()}}))
""",
        {k: v for k, v in env.items() if k != "AIRFLOW_HOME"},
        home,
    )


def test_every_airflow_component_runs_the_fab_auth_manager(umbrella) -> None:
    """The official chart's auth manager for Airflow 3; the dag-processor reads it too (it syncs
    DAG permissions into FAB's tables), and the CLI takes its `users` commands from it."""
    for name, spec in pod_specs(umbrella):
        if not name.startswith(("Deployment/occ-airflow", "Job/occ-airflow")):
            continue
        if name == "Job/occ-airflow-seed":
            continue  # the step image putting raw data in the lake: not an Airflow component
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            assert _env(container).get("AIRFLOW__CORE__AUTH_MANAGER") == FAB_AUTH_MANAGER, name
            assert not any(k.startswith("AIRFLOW__CORE__SIMPLE_AUTH") for k in _env(container))


def test_only_the_migration_job_writes_fabs_roles_and_permissions(umbrella) -> None:
    """Two writers race on FAB's unique keys (seen in `make chart-replay`: the Job failed with
    `duplicate key … ab_permission_view_role` while the api-server synced the same roles)."""
    for name, spec in pod_specs(umbrella):
        if name.startswith("Deployment/occ-airflow"):
            for container in spec["containers"]:
                assert _env(container).get("AIRFLOW__FAB__UPDATE_FAB_PERMS") == "False", name
    (job,) = _named(umbrella, "Job", MIGRATION_JOB)["spec"]["template"]["spec"]["containers"]
    assert _env(job).get("AIRFLOW__FAB__UPDATE_FAB_PERMS") == "True"


def test_only_the_migration_job_reads_the_admin_password(umbrella) -> None:
    for name, spec in pod_specs(umbrella):
        assert all(
            (v.get("secret") or {}).get("secretName") != "occ-airflow"
            for v in spec.get("volumes", [])
        ), f"{name} mounts the Airflow secret"
        keys = {
            e["valueFrom"]["secretKeyRef"]["key"]
            for c in [*spec.get("initContainers", []), *spec["containers"]]
            for e in c.get("env", [])
            if "valueFrom" in e and e["valueFrom"]["secretKeyRef"]["name"] == "occ-airflow"
        }
        assert ("admin-password" in keys) == (name == f"Job/{MIGRATION_JOB}"), name


# The admin password, twice (the CLI asks for a confirmation), from a shell builtin.
ADMIN_LOGIN_ON_STDIN = 'printf \'%s\\n%s\\n\' "$AIRFLOW_ADMIN_PASSWORD" "$AIRFLOW_ADMIN_PASSWORD"'


def test_the_admin_password_never_reaches_an_argv(umbrella) -> None:
    """`ps` shows every process's argv on the node: the CLI reads the password on stdin."""
    (job,) = [spec for name, spec in pod_specs(umbrella) if name == f"Job/{MIGRATION_JOB}"]
    script = " ".join(job["containers"][0]["args"])
    assert "--password" not in script
    for command in ("users create", "users reset-password"):
        piped = f"{ADMIN_LOGIN_ON_STDIN} | setsid -w airflow {command}"
        assert piped in script, command


def test_the_migration_job_makes_a_fab_admin_and_a_rerun_takes_a_changed_password(
    umbrella, tmp_path
) -> None:
    """What `helm install` and then `helm upgrade` after a Secret change run: the Job twice."""
    job = _named(umbrella, "Job", MIGRATION_JOB)
    (server,) = _named(umbrella, "Deployment", "occ-airflow-api-server")["spec"]["template"][
        "spec"
    ]["containers"]
    secrets = {o["metadata"]["name"]: o for o in umbrella if o["kind"] == "Secret"}
    login = secrets["occ-airflow"]["stringData"]
    user = "airflow"  # auth.adminUser's default, the login NOTES.txt prints
    home = tmp_path / "airflow-home"
    home.mkdir()

    _run_migration_job(job, secrets, home)
    first = {
        "admin": {"username": user, "password": login["admin-password"]},
        "wrong": {"username": user, "password": login["admin-password"] + "x"},
    }
    assert _fab_logins(server, secrets, home, first) == {"admin": 201, "wrong": 401}

    changed = {**secrets["occ-airflow"], "stringData": {**login, "admin-password": "changed-pw-1"}}
    _run_migration_job(job, {**secrets, "occ-airflow": changed}, home)
    second = {
        "new": {"username": user, "password": "changed-pw-1"},
        "old": {"username": user, "password": login["admin-password"]},
    }
    assert _fab_logins(server, secrets, home, second) == {"new": 201, "old": 401}


def test_the_generated_jwt_secret_is_as_long_as_hs512_wants(umbrella) -> None:
    """Airflow signs its tokens with HS512 for a shared secret; RFC 7518 (3.2) wants a key of at
    least 64 bytes, and PyJWT warns on every token signed with less."""
    login = _named(umbrella, "Secret", "occ-airflow")["stringData"]
    assert len(login["jwt-secret"].encode()) >= 64


# -- 2. Task logs: the hostname Airflow records must be reachable from the api-server -----------


def test_airflow_records_task_hosts_as_pod_ips(umbrella, tmp_path) -> None:
    callables = set()
    for component in AIRFLOW_COMPONENTS:
        deployment = _named(umbrella, "Deployment", f"occ-airflow-{component}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        callables.add(_env(container).get("AIRFLOW__CORE__HOSTNAME_CALLABLE"))
    (dotted,) = callables
    assert dotted is not None, "pods of a Deployment have no DNS name: record their IP"
    # The functions the task runner (ti.hostname) and the core (log server) call, from the venv.
    hosts = _run_python(
        """
import json
from airflow.sdk.api.client import get_hostname as task_host
from airflow.utils.net import get_hostname as core_host
print(json.dumps([task_host(), core_host()]))
""",
        {"AIRFLOW__CORE__HOSTNAME_CALLABLE": dotted},
        tmp_path,
    )
    for host in hosts:
        ipaddress.ip_address(host)  # raises on a name


# -- 3, 4, 8. `make deploy`: the helm command it runs, and what it needs first ------------------


def _make_n_deploy(cwd: Path, tag: str) -> list[str]:
    """The commands `make deploy` would run, one per line (continuations joined), with the
    Kubernetes API's addresses given (no cluster here to read them from: tests/charts/test_deploy.py)."""
    cidrs = "KUBE_API_CIDRS=10.96.0.1/32,172.18.0.2/32"
    done = subprocess.run(
        ["make", "-n", "deploy", f"TAG={tag}", cidrs],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.replace("\\\n", " ").splitlines()


def _helm_deploy(tag: str) -> list[str]:
    (line,) = [line for line in _make_n_deploy(tools.ROOT, tag) if " upgrade --install " in line]
    return shlex.split(line)


@pytest.mark.parametrize("tag", ["1234567", "0123456"])
def test_make_deploy_passes_an_all_digit_git_sha_as_a_string_tag(helm, tag) -> None:
    words = _helm_deploy(tag)
    at = words.index("upgrade")
    template = [helm, "template", *[w for w in words[at + 1 :] if w != "--install"]]
    done = subprocess.run(
        template, cwd=tools.ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    objects = [o for o in yaml.safe_load_all(done.stdout) if o]
    images = {
        c["image"]
        for _, spec in pod_specs(objects)
        for c in [*spec.get("initContainers", []), *spec["containers"]]
        if c["image"].startswith("occupancy-")
    }
    assert images == {f"occupancy-{name}:{tag}" for name in ("app", "airflow", "mlflow")}
    scheduler = _named(objects, "Deployment", "occupancy-airflow-scheduler")
    (container,) = scheduler["spec"]["template"]["spec"]["containers"]
    assert _env(container)["OCCUPANCY_STEP_IMAGE"] == f"occupancy-app:{tag}"


def _minutes(duration: str) -> float:
    """A Go duration as helm takes it (15m, 1h, 900s, 1h30m) in minutes."""
    total, number = 0.0, ""
    for char in duration:
        if char.isdigit() or char == ".":
            number += char
        else:
            total += float(number) * {"h": 60, "m": 1, "s": 1 / 60}[char]
            number = ""
    assert number == "", f"no unit in {duration!r}"
    return total


def test_make_deploy_gives_helm_hooks_time_for_image_pulls() -> None:
    words = _helm_deploy("1234567")
    timeouts = [w.split("=", 1)[1] for w in words if w.startswith("--timeout=")] + [
        words[i + 1] for i, w in enumerate(words) if w == "--timeout"
    ]
    assert timeouts, "helm 4 waits 5m for hooks by default: too short for a first image pull"
    assert _minutes(timeouts[-1]) >= 10


def test_make_deploy_fetches_helm_first_on_a_fresh_clone(tmp_path) -> None:
    shutil.copy(tools.ROOT / "Makefile", tmp_path)
    for name in ("pyproject.toml", "uv.lock"):  # prerequisites of the venv, by name only
        (tmp_path / name).touch()
    fresh = _make_n_deploy(tmp_path, "1234567")
    uses = [i for i, line in enumerate(fresh) if ".tools/helm/helm " in line]
    fetches = [i for i, line in enumerate(fresh) if "tests/charts/tools.py helm" in line]
    assert fetches and uses, fresh
    assert fetches[0] < uses[0], "helm is used before it is fetched"
    # A file target: once helm is there (this clone), make does not fetch it again ...
    assert not [line for line in _make_n_deploy(tools.ROOT, "1234567") if "tools.py helm" in line]
    # ... and the fetch command itself works (here helm exists, so it only prints its path).
    done = subprocess.run(
        shlex.split(fresh[fetches[0]]),
        cwd=tools.ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "HELM"},
    )
    assert done.returncode == 0, done.stderr
    assert Path(tools.ROOT / done.stdout.strip()).resolve() == (tools.TOOLS / "helm" / "helm")


# -- 4. The bucket hook Job waits for MinIO itself, bounded --------------------------------------


def _fake_bin(root: Path, answers_after: int | None) -> Path:
    """`mc` that fails until its Nth call (never, with None) and logs its arguments; no-op `sleep`."""
    root.mkdir()
    limit = 10**6 if answers_after is None else answers_after
    (root / "mc").write_text(
        f'#!/bin/sh\necho "$*" >> "{root}/calls"\n'
        f'[ "$(wc -l < "{root}/calls")" -ge {limit} ] || {{ echo "connection refused" >&2; exit 1; }}\n'
    )
    (root / "sleep").write_text("#!/bin/sh\nexit 0\n")
    for name in ("mc", "sleep"):
        (root / name).chmod(0o755)
    return root


def _run_init(container: dict, fake: Path) -> subprocess.CompletedProcess[str]:
    env = _env(container) | {
        e["name"]: "dummy" for e in container.get("env", []) if "valueFrom" in e
    }
    return subprocess.run(
        [*container["command"], *container.get("args", [])],
        env={**env, "PATH": f"{fake}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_bucket_job_waits_for_minio_in_a_bounded_init_container(render, tmp_path) -> None:
    job = _named(render.objects("minio"), "Job", "occ-minio-buckets")
    spec = job["spec"]["template"]["spec"]
    (main,) = spec["containers"]
    (wait,) = spec["initContainers"]
    assert wait["image"] == main["image"]
    assert wait["securityContext"] == main["securityContext"]
    assert restricted_violations(spec) == []

    answering = _fake_bin(tmp_path / "answers", answers_after=3)
    done = _run_init(wait, answering)
    assert done.returncode == 0, done.stderr
    calls = (answering / "calls").read_text().splitlines()
    assert len(calls) == 3 and all("http://occ-minio:9000" in call for call in calls)

    silent = _fake_bin(tmp_path / "silent", answers_after=None)
    done = _run_init(wait, silent)
    assert done.returncode != 0
    assert 10 <= len((silent / "calls").read_text().splitlines()) <= 120  # bounded, not forever
    assert "occ-minio:9000" in done.stderr  # says what it waited for


# -- 5. MLflow's Host check admits port-forwards to any local port, nothing foreign ------------


@pytest.mark.parametrize("server", ["fastapi", "flask"])
def test_mlflow_admits_a_port_forward_on_any_local_port(umbrella, monkeypatch, server) -> None:
    (container,) = _named(umbrella, "Deployment", "occ-mlflow")["spec"]["template"]["spec"][
        "containers"
    ]
    (allowed,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--allowed-hosts=")]
    # What `mlflow server --allowed-hosts` does with the value before the app starts.
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", allowed)
    path = "/api/2.0/mlflow/experiments/search"
    if server == "fastapi":
        from fastapi import FastAPI
        from fastapi.testclient import TestClient
        from mlflow.server.fastapi_security import init_fastapi_security

        app = FastAPI()
        init_fastapi_security(app)
        app.get(path)(lambda: {"ok": True})
        status = lambda host: TestClient(app).get(path, headers={"host": host}).status_code  # noqa: E731
    else:
        from flask import Flask
        from mlflow.server.security import init_security_middleware

        flask_app = Flask("mlflow-test")
        init_security_middleware(flask_app)
        flask_app.get(path)(lambda: {"ok": True})
        status = lambda host: flask_app.test_client().get(path, headers={"Host": host}).status_code  # noqa: E731

    for host in (
        "localhost:54321",
        "127.0.0.1:54321",
        "localhost:5000",
        "occ-mlflow:5000",
        "occ-mlflow",
    ):
        assert status(host) == 200, host
    for host in ("evil.example:5000", "localhost.evil.example:5000", "occ-mlflow.evil.example"):
        assert status(host) == 403, host


# -- 6. Generated secrets outlive `helm uninstall`, like the PVCs holding what they protect ----


@pytest.mark.parametrize("chart", CHARTS)
def test_generated_secrets_are_kept_on_uninstall(render, chart) -> None:
    for secret in [o for o in render.objects(chart) if o["kind"] == "Secret"]:
        annotations = secret["metadata"].get("annotations") or {}
        assert annotations.get("helm.sh/resource-policy") == "keep", secret["metadata"]["name"]


def test_the_umbrella_generates_exactly_the_seven_kept_secrets(umbrella) -> None:
    kept = {
        o["metadata"]["name"]
        for o in umbrella
        if o["kind"] == "Secret"
        and (o["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
    }
    assert kept == {
        "occ-postgres",
        "occ-minio-credentials",
        "occ-minio-lake",
        "occ-minio-mlflow",
        "occ-minio-predictions",
        "occ-airflow",
        "occ-api",
    }


# -- 9. The training fan-out fits a laptop's kind node --------------------------------------

# The documented budget (README, Kubernetes section): one kind node with 4 CPUs and 8 GiB (Docker
# Desktop's usual share), minus what kind's own pods request: kube-apiserver 250m, controller-
# manager 200m, scheduler 100m, etcd 100m/100Mi, two CoreDNS 100m/70Mi, kindnet 100m/50Mi —
# 950m/290Mi, reserved here as 1 CPU / 512 MiB.
NODE_MILLICPU, NODE_MIB = 4000, 8192
KIND_SYSTEM_MILLICPU, KIND_SYSTEM_MIB = 1000, 512


def _millicpu(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def _mib(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024, "Ki": 1 / 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity) // 2**20


def _pod_requests(spec: dict) -> tuple[int, int]:
    """What the scheduler reserves for a pod: the containers' sum, or the largest init container."""

    def requests(container: dict) -> tuple[int, int]:
        r = container["resources"]["requests"]
        return _millicpu(r["cpu"]), _mib(r["memory"])

    main = [requests(c) for c in spec["containers"]]
    init = [requests(c) for c in spec.get("initContainers", [])]
    cpu, mem = sum(c for c, _ in main), sum(m for _, m in main)
    return max([cpu, *(c for c, _ in init)]), max([mem, *(m for _, m in init)])


def _platform_requests(objects: list[dict]) -> tuple[int, int]:
    """Requests of every long-running pod (Jobs are done before a pipeline runs), with replicas."""
    floors = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
        for h in objects
        if h["kind"] == "HorizontalPodAutoscaler"
    }
    cpu = mem = 0
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            name = obj["metadata"]["name"]
            replicas = max(obj["spec"].get("replicas", 1), floors.get(name, 0))
            pod_cpu, pod_mem = _pod_requests(obj["spec"]["template"]["spec"])
            cpu, mem = cpu + replicas * pod_cpu, mem + replicas * pod_mem
    return cpu, mem


@pytest.fixture(scope="module")
def charted_dags(umbrella, airflow_home) -> Any:
    """The DAGs as the scheduler parses them, with the chart's env; and that env."""
    (container,) = _named(umbrella, "Deployment", "occ-airflow-scheduler")["spec"]["template"][
        "spec"
    ]["containers"]
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("OCCUPANCY_")]:
            patch.delenv(name)
        for name, value in _env(container).items():
            if name.startswith("OCCUPANCY_"):
                patch.setenv(name, value)
        if str(DAGS_FOLDER) not in sys.path:
            sys.path.append(str(DAGS_FOLDER))
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(str(DAGS_FOLDER))
        assert bag.import_errors == {}
        return bag.dags, _env(container)


@pytest.fixture(scope="module")
def train_task(charted_dags) -> Any:
    """The train task of train_pipeline_dag as the scheduler parses it, with the chart's env."""
    dags, env = charted_dags
    return dags["train_pipeline_dag"].get_task("train"), env


def test_the_source_and_chunk_fan_outs_run_at_most_the_charted_number_of_pods(
    charted_dags,
) -> None:
    dags, env = charted_dags
    values = yaml.safe_load((tools.ROOT / "charts/airflow/values.yaml").read_text())["steps"]
    sources, scoring = values["sources"]["concurrency"], values["scoring"]["concurrency"]
    assert env["OCCUPANCY_MAX_PARALLEL_SOURCES"] == str(sources)
    assert env["OCCUPANCY_SCORE_CONCURRENCY"] == str(scoring)
    treatment = dags["data_treatment_dag"]
    for task_id in ("ingest", "treat"):
        assert treatment.get_task(task_id).max_active_tis_per_dagrun == sources
    assert dags["batch_scoring_dag"].get_task("score").max_active_tis_per_dagrun == scoring


def test_the_training_fan_out_runs_at_most_the_charted_number_of_pods(train_task) -> None:
    task, env = train_task
    values = yaml.safe_load((tools.ROOT / "charts/airflow/values.yaml").read_text())
    bound = values["steps"]["train"]["concurrency"]
    assert env["OCCUPANCY_TRAIN_CONCURRENCY"] == str(bound)
    assert task.max_active_tis_per_dag == bound
    assert bound < len(task.expand_input.value["arguments"])  # it really bounds the default fan-out


def test_the_platform_and_bounded_training_fit_the_documented_kind_node(
    umbrella, train_task
) -> None:
    from kubernetes.client import ApiClient

    task, _ = train_task
    pods = [
        ApiClient().sanitize_for_serialization(task.unmap({"arguments": a}).build_pod_request_obj())
        for a in task.expand_input.value["arguments"]
    ]
    train_cpu, train_mem = max(_pod_requests(p["spec"]) for p in pods)
    platform_cpu, platform_mem = _platform_requests(umbrella)
    running = task.max_active_tis_per_dag
    cpu = KIND_SYSTEM_MILLICPU + platform_cpu + running * train_cpu
    mem = KIND_SYSTEM_MIB + platform_mem + running * train_mem
    assert cpu <= NODE_MILLICPU, f"{cpu}m CPU requested on a {NODE_MILLICPU}m node"
    assert mem <= NODE_MIB, f"{mem} MiB requested on a {NODE_MIB} MiB node"
