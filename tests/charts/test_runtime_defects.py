"""Runtime defects of the Kubernetes mode, each proved on the rendered objects or the real code.

What a cluster would show (README, Kubernetes section, "Troubleshooting"): the api-server crash-
looping on a read-only passwords file, task logs that cannot be fetched, `make deploy` refusing an
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
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tools
import yaml
from chart_support import CHARTS, pod_specs

from pod_policy import restricted_violations

AUTH_FILE_VAR = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
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


def _mount_for(container: dict, path: str) -> dict | None:
    """The volume mount a path lies on (the deepest one), or None."""
    mounts = [
        m
        for m in container.get("volumeMounts", [])
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
    ]
    return max(mounts, key=lambda m: len(m["mountPath"]), default=None)


def _run_python(code: str, env: dict[str, str], home: Path) -> Any:
    """Run code with the venv's interpreter in a clean Airflow environment; its last line, parsed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OCCUPANCY_"))}
    clean |= {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", **env}
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- 1. The api-server's passwords file must be writable (Airflow opens it "a+" and "r+") --------


def test_airflow_opens_its_passwords_file_on_a_writable_volume(umbrella) -> None:
    seen = set()
    for name, spec in pod_specs(umbrella):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            path = _env(container).get(AUTH_FILE_VAR)
            if path is None:
                continue
            seen.add((name, container["name"]))
            mount = _mount_for(container, path)
            assert mount is not None, f"{name}/{container['name']}: {path} is on no volume"
            assert not mount.get("readOnly"), f"{name}/{container['name']}: {path} is read-only"
            # Secret and ConfigMap volumes are read-only whatever the mount says.
            assert set(volumes[mount["name"]]) == {"name", "emptyDir"}, (name, mount)
    assert ("Deployment/occ-airflow-api-server", "api-server") in seen


def test_only_the_api_server_mounts_the_airflow_login_secret(umbrella) -> None:
    for name, spec in pod_specs(umbrella):
        mounted = [
            v
            for v in spec.get("volumes", [])
            if (v.get("secret") or {}).get("secretName") == "occ-airflow"
        ]
        if name == "Deployment/occ-airflow-api-server":
            assert len(mounted) == 1, name
        else:
            assert mounted == [], f"{name} mounts the Airflow login secret it does not need"


def _pod_layout(spec: dict, secrets: dict[str, dict], root: Path) -> dict[str, Path]:
    """A host directory per volume: secret volumes filled (read-only) as the kubelet would."""
    dirs = {}
    for volume in spec["volumes"]:
        path = root / volume["name"]
        path.mkdir()
        if "secret" in volume:
            data = secrets[volume["secret"]["secretName"]]["stringData"]
            for item in volume["secret"]["items"]:
                (path / item["path"]).write_text(data[item["key"]])
                (path / item["path"]).chmod(volume["secret"]["defaultMode"])
            path.chmod(0o555)
        dirs[volume["name"]] = path
    return dirs


def _on_host(container: dict, value: str, dirs: dict[str, Path]) -> str:
    """A container path translated to the host directory of its volume (other values unchanged)."""
    mount = _mount_for(container, value) if value.startswith("/") else None
    if mount is None:
        return value
    relative = value[len(mount["mountPath"]) :].lstrip("/")
    return str(dirs[mount["name"]] / relative)


def test_the_api_server_copies_its_login_where_airflow_can_open_and_use_it(
    umbrella, tmp_path
) -> None:
    spec = _named(umbrella, "Deployment", "occ-airflow-api-server")["spec"]["template"]["spec"]
    secrets = {o["metadata"]["name"]: o for o in umbrella if o["kind"] == "Secret"}
    dirs = _pod_layout(spec, secrets, tmp_path)
    (secret_volume,) = [v["name"] for v in spec["volumes"] if "secret" in v]
    (copier,) = [
        c
        for c in spec["initContainers"]
        if any(m["name"] == secret_volume for m in c.get("volumeMounts", []))
    ]
    (server,) = spec["containers"]
    assert all(m["name"] != secret_volume for m in server["volumeMounts"])
    assert restricted_violations(spec) == []

    # Run the init container's own command, its paths mapped onto the volumes' directories.
    argv = [_on_host(copier, word, dirs) for word in [*copier["command"], *copier.get("args", [])]]
    env = {k: _on_host(copier, v, dirs) for k, v in _env(copier).items()}
    done = subprocess.run(
        argv, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    copied = Path(_on_host(server, _env(server)[AUTH_FILE_VAR], dirs))
    login = secrets["occ-airflow"]["stringData"]
    assert json.loads(copied.read_text()) == json.loads(login["passwords.json"])
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600

    # Airflow's own SimpleAuthManager, as the api-server creates it, on that file: init, log in.
    user = _env(server)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")[0]
    result = _run_python(
        f"""
import json
from fastapi import HTTPException
from airflow.api_fastapi.app import init_auth_manager
from airflow.api_fastapi.auth.managers.simple.datamodels.login import LoginBody
from airflow.api_fastapi.auth.managers.simple.services.login import SimpleAuthManagerLogin
init_auth_manager()
token = SimpleAuthManagerLogin.create_token(body=LoginBody(username={user!r}, password={login["admin-password"]!r}))
try:
    SimpleAuthManagerLogin.create_token(body=LoginBody(username={user!r}, password="wrong"))
    refused = None
except HTTPException as error:
    refused = error.status_code
print(json.dumps({{"token": len(token), "refused": refused}}))
""",
        {
            "AIRFLOW__CORE__AUTH_MANAGER": _env(server)["AIRFLOW__CORE__AUTH_MANAGER"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": _env(server)[
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
            ],
            AUTH_FILE_VAR: str(copied),
            "AIRFLOW__API_AUTH__JWT_SECRET": login["jwt-secret"],
        },
        tmp_path / "airflow-home",
    )
    assert result["token"] > 20 and result["refused"] == 401
    # The admin password from the Secret is still the one (init generated no other).
    assert json.loads(copied.read_text()) == {user: login["admin-password"]}


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


def test_the_umbrella_generates_exactly_the_four_kept_secrets(umbrella) -> None:
    kept = {
        o["metadata"]["name"]
        for o in umbrella
        if o["kind"] == "Secret"
        and (o["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep"
    }
    assert kept == {"occ-postgres", "occ-minio-credentials", "occ-airflow", "occ-api"}


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
def train_task(umbrella, airflow_home) -> Any:
    """The train task of train_pipeline_dag as the scheduler parses it, with the chart's env."""
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
        return bag.dags["train_pipeline_dag"].get_task("train"), _env(container)


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
