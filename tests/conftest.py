"""Shared test helpers: real Inside Airbnb files and small raw listings frames."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

# Real Inside Airbnb files ship with the tests (tests/data/README.md: source, licence, use).
DEFAULT_REAL_DATA = Path(__file__).resolve().parent / "data"
DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Directory of the real files: tests/data, or OCCUPANCY_TEST_DATA_DIR when set."""
    path = Path(os.environ.get("OCCUPANCY_TEST_DATA_DIR") or DEFAULT_REAL_DATA)
    if not path.is_dir():
        where = (
            "OCCUPANCY_TEST_DATA_DIR" if os.environ.get("OCCUPANCY_TEST_DATA_DIR") else "tests/data"
        )
        pytest.fail(
            f"real test data not found at {path} ({where}): expected the Inside Airbnb files"
        )
    return path


@pytest.fixture(scope="session")
def newark(real_data_dir: Path) -> Any:
    """The real Newark file as raw text cells, the way ingest reads it (never modify it)."""
    import pandas as pd  # here, not at the top: most test sessions never need it

    return pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, keep_default_na=False
    )


@pytest.fixture(scope="session")
def newark_listing(real_data_dir: Path) -> dict[str, str]:
    """The first real Newark listing as a CSV row posted as is (empty fields left out)."""
    import pandas as pd

    raw = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz",
        dtype=str,
        keep_default_na=False,
        nrows=1,
    )
    return {k: v for k, v in raw.iloc[0].to_dict().items() if v != ""}


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings with the local defaults under a temporary home, no AWS or MLflow env leaking in."""
    from occupancy.config import Settings

    for name in list(os.environ):
        if name.startswith(("OCCUPANCY_", "AWS_", "MLFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return Settings(home=tmp_path / ".occupancy")


DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: dummy, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: dummy, context: {cluster: dummy, user: dummy}}]
current-context: dummy
users: [{name: dummy, user: {token: dummy}}]
"""


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway AIRFLOW_HOME, no examples, the dags folder on sys.path, a dummy kube config."""
    home = tmp_path_factory.mktemp("airflow-home")
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    # build_pod_request_obj() asks the hook whether it runs in a cluster, which reads a kube
    # config: point it at a file that names no reachable server (nothing is contacted).
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(DUMMY_KUBECONFIG)
    os.environ["KUBECONFIG"] = str(kubeconfig)
    # The dag-processor puts the bundle (dags folder) on sys.path; so do the tests.
    if str(DAGS_FOLDER) not in sys.path:
        sys.path.append(str(DAGS_FOLDER))
    return home
