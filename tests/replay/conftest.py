"""The chart replay's fixtures: Docker and the images (shared with `make e2e`), helm, the release."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for folder in (HERE, ROOT / "tests" / "e2e", ROOT / "tests" / "charts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import stack  # noqa: E402  (tests/e2e: Docker engine, compose plugin, offline base image)
import substitutions  # noqa: E402
import tools  # noqa: E402  (tests/charts: helm from .tools/)
from substitutions import NAMESPACE, RELEASE, TAG  # noqa: E402


@pytest.fixture(scope="session")
def docker_images(tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Docker up and the images built as `make e2e` builds them (cached after it); True when
    offline, where the stand-ins replace the PostgreSQL and MinIO images."""
    built = stack.build_stack(tmp_path_factory.mktemp("images"), rows=1)
    stack.log(f"images ready in {built.timings['build_s']:.0f} s")
    return built.offline


@pytest.fixture(scope="session")
def rendered() -> list[dict[str, Any]]:
    """`helm template` of the umbrella with its defaults plus only the local image values."""
    helm = tools.helm()
    for chart in ("postgres", "minio", "mlflow", "airflow", "api", "occupancy"):
        subprocess.run(
            [helm, "dependency", "build", str(ROOT / "charts" / chart)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    command = [
        helm, "template", RELEASE, str(ROOT / "charts" / "occupancy"), "-n", NAMESPACE,
        *substitutions.helm_sets(TAG),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
