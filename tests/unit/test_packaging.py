"""Static checks of the images and the compose files (the running stack is `make e2e`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILES = sorted(ROOT.glob("images/**/Dockerfile"))
PRODUCT_IMAGES = ("app", "airflow", "mlflow")
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.offline.yml")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|ACCESS_KEY")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_image_is_built_from_a_dockerfile_we_check() -> None:
    names = {path.parent.name for path in DOCKERFILES}
    assert set(PRODUCT_IMAGES) <= names


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfiles_are_hadolint_clean(dockerfile: Path) -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, ""), done.stdout


@pytest.mark.parametrize("name", PRODUCT_IMAGES)
def test_product_images_take_a_base_image_and_run_as_a_numeric_non_root_user(name: str) -> None:
    text = (ROOT / "images" / name / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users, "no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) > 0 and int(gid) > 0
    assert "uv==0.13.8" in text  # the same uv as the Makefile, reading the same uv.lock
    assert "--frozen" in text


def test_no_secret_is_baked_into_an_image() -> None:
    for dockerfile in DOCKERFILES:
        for line in dockerfile.read_text().splitlines():
            if line.startswith(("ENV ", "ARG ")):
                assert not SECRET_NAME.search(line), f"{dockerfile}: {line}"


def test_the_build_context_leaves_local_state_and_secrets_out() -> None:
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    rules = [line for line in rules if not line.startswith("#")]
    assert rules[0] == "*"  # deny everything, then allow what the images need
    allowed = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src", "dags", "images"}


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_pass_the_compose_spec_schema(name: str) -> None:
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


PUBLISH_ADDRESS = "${OCCUPANCY_PUBLISH_ADDRESS:-127.0.0.1}"


def test_compose_publishes_the_kubernetes_ports_on_loopback_only() -> None:
    services = _compose()["services"]
    published = {
        service: [str(p).rsplit(":", 2) for p in spec.get("ports", [])]
        for service, spec in services.items()
        if spec.get("ports")
    }
    assert {service: sorted(int(p[1]) for p in ports) for service, ports in published.items()} == {
        "postgres": [5432],
        "minio": [9000, 9001],
        "mlflow": [5000],
        "airflow-apiserver": [8080],
        "api": [8000],
    }
    # Bound to loopback unless the documented variable says otherwise: "5432:5432" alone would
    # publish on every interface.
    for service, ports in published.items():
        for address, host, container in ports:
            assert (address, host) == (PUBLISH_ADDRESS, container), service
    example = (ROOT / ".env.example").read_text()
    assert "OCCUPANCY_PUBLISH_ADDRESS=127.0.0.1" in example


def test_compose_takes_every_secret_from_the_env_file() -> None:
    compose = _compose()
    blocks = [compose.get("x-lake-s3-env", {}), compose["x-airflow"]["environment"]]
    blocks += [spec.get("environment", {}) for spec in compose["services"].values()]
    for block in blocks:
        for name, value in block.items():
            if SECRET_NAME.search(name):
                assert str(value).startswith("${"), f"{name} is not read from .env"
    example = (ROOT / ".env.example").read_text()
    assert "development only" in example.lower() or "development-only" in example.lower()


def test_compose_gives_each_service_only_its_own_s3_identity() -> None:
    services = _compose()["services"]

    def env(name: str) -> dict[str, str]:
        return {k: str(v) for k, v in (services[name].get("environment") or {}).items()}

    holders = {name for name in services if any("MINIO_ROOT" in v for v in env(name).values())}
    assert holders == {"minio", "minio-provision"}

    def key_of(name: str) -> str:
        """The .env variable the service's S3 access key comes from."""
        found = re.match(r"\$\{(\w+)", env(name).get("AWS_ACCESS_KEY_ID", ""))
        return found.group(1) if found else ""

    lake_users = {name for name in services if key_of(name) == "LAKE_ACCESS_KEY"}
    # LocalExecutor: the scheduler runs every step; the other Airflow services hold no S3 key.
    assert lake_users == {"seed", "airflow-scheduler"}
    assert key_of("mlflow") == "MLFLOW_ACCESS_KEY"
    # The API's key is the predictions identity's (write the prediction log, nothing else).
    assert key_of("api") == "PREDICTIONS_ACCESS_KEY"
    assert env("api")["OCCUPANCY_PREDICTION_LOG_URI"] == "s3://occupancy-predictions"
    assert env("api").get("OCCUPANCY_PREDICTION_LOG", "true") != "false"
    # Buckets are made by the root user's one-shot: the seed's lake identity cannot.
    assert not [a for a in services["seed"]["command"] if a.startswith("--bucket")]


def test_compose_waits_for_what_each_service_needs() -> None:
    services = _compose()["services"]
    assert services["mlflow"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["mlflow"]["depends_on"]["seed"]["condition"] == "service_completed_successfully"
    assert services["minio-provision"]["depends_on"]["minio"]["condition"] == "service_healthy"
    provisioned = services["seed"]["depends_on"]["minio-provision"]["condition"]
    assert provisioned == "service_completed_successfully"
    assert services["api"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    for name in ("postgres", "minio", "airflow-apiserver", "api"):
        assert "healthcheck" in services[name], name
    assert "/health/ready" in " ".join(services["api"]["healthcheck"]["test"])


def test_compose_never_puts_the_admin_password_in_an_argv() -> None:
    """`ps` on the host shows every container process's argv: the CLI reads it on stdin."""
    script = " ".join(_compose()["services"]["airflow-init"]["command"])
    assert "--password" not in script
    assert script.count("| setsid -w airflow users") == 2


def test_compose_runs_every_airflow_service_with_the_fab_auth_manager() -> None:
    """The same auth manager as the chart; the login is FAB's user table, not a passwords file."""
    services = _compose()["services"]
    airflow = [name for name in services if name.startswith("airflow-")]
    assert len(airflow) == 5, airflow
    for name in airflow:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == (
            "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        ), name
        assert not [k for k in env if k.startswith("AIRFLOW__CORE__SIMPLE_AUTH")], name
    for name in airflow:
        if name != "airflow-init":
            assert services[name]["depends_on"]["airflow-init"]["condition"] == (
                "service_completed_successfully"
            ), name


# -- Provenance: every image records the commit it was built from (issue 13 item 7) --
# Images that run steps or register models must also hand it to the code as OCCUPANCY_GIT_SHA.
GIT_SHA_ARG = "ARG GIT_SHA=unknown"
RUNS_OCCUPANCY = ("app", "airflow")
COMPOSE_GIT_SHA = "${OCCUPANCY_GIT_SHA:-unknown}"
SKAFFOLD_GIT_SHA = '{{default "unknown" .OCCUPANCY_GIT_SHA}}'


def _instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


@pytest.mark.parametrize("name", PRODUCT_IMAGES)
def test_images_label_the_git_sha_they_were_built_from(name: str) -> None:
    instructions = _instructions(ROOT / "images" / name / "Dockerfile")
    assert instructions.count(GIT_SHA_ARG) == 1, f"images/{name}: no single {GIT_SHA_ARG}"
    after = instructions[instructions.index(GIT_SHA_ARG) + 1 :]
    assert "LABEL org.opencontainers.image.revision=${GIT_SHA}" in after
    if name in RUNS_OCCUPANCY:
        assert any(
            line.startswith("ENV ") and "OCCUPANCY_GIT_SHA=${GIT_SHA}" in line for line in after
        ), f"images/{name}: the sha never reaches OCCUPANCY_GIT_SHA"


@pytest.mark.parametrize("name", PRODUCT_IMAGES)
def test_a_new_commit_rebuilds_no_dependency_layer(name: str) -> None:
    """The sha is declared after every RUN, COPY and ADD, in the stage every target builds on:
    a new commit changes the image's metadata only, never a cached dependency layer."""
    instructions = _instructions(ROOT / "images" / name / "Dockerfile")
    at = instructions.index(GIT_SHA_ARG)
    stage = next(i for i in reversed(instructions[:at]) if i.startswith("FROM "))
    stage_name = stage.split()[-1] if " AS " in stage else None
    for line in instructions[at + 1 :]:
        assert not line.startswith(("RUN ", "COPY ", "ADD ")), f"images/{name}: {line} after"
        if line.startswith("FROM "):
            assert line.split()[1] == stage_name, f"images/{name}: {line} drops the sha"


def _make_n_images(*overrides: str) -> list[str]:
    done = subprocess.run(
        ["make", "-n", "images", *overrides], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("docker build ")]


def test_make_images_builds_with_the_checkouts_revision() -> None:
    from occupancy.provenance import checkout_revision

    builds = _make_n_images()
    assert len(builds) == len(PRODUCT_IMAGES)
    for line in builds:
        assert f"--build-arg GIT_SHA={checkout_revision(ROOT)} " in line, line
    for line in _make_n_images("GIT_SHA=0123abc"):
        assert "--build-arg GIT_SHA=0123abc " in line, line


def test_compose_builds_every_image_with_the_git_sha_variable() -> None:
    services = _compose()["services"]
    built = {name: spec["build"] for name, spec in services.items() if "build" in spec}
    assert {spec["dockerfile"] for spec in built.values()} == {
        f"images/{name}/Dockerfile" for name in PRODUCT_IMAGES
    }
    for name, build in built.items():
        assert build["args"]["GIT_SHA"] == COMPOSE_GIT_SHA, name
    assert "OCCUPANCY_GIT_SHA=" in (ROOT / ".env.example").read_text()


def test_skaffold_builds_every_image_with_the_git_sha_variable() -> None:
    artifacts = yaml.safe_load((ROOT / "skaffold.yaml").read_text())["build"]["artifacts"]
    assert {a["docker"]["dockerfile"] for a in artifacts} == {
        f"images/{name}/Dockerfile" for name in PRODUCT_IMAGES
    }
    for artifact in artifacts:
        assert artifact["docker"]["buildArgs"]["GIT_SHA"] == SKAFFOLD_GIT_SHA, artifact["image"]
