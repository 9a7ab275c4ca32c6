"""Airflow for DAG tests: a throwaway AIRFLOW_HOME, no examples, the dags folder importable."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dag_support import DAGS_FOLDER

DUMMY_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: dummy, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: dummy, context: {cluster: dummy, user: dummy}}]
current-context: dummy
users: [{name: dummy, user: {token: dummy}}]
"""


@pytest.fixture(scope="session", autouse=True)
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
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


@pytest.fixture
def load_dags(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Parse the dags folder with the given OCCUPANCY_* environment; returns the DagBag."""

    def load(**env: str) -> object:
        for name in list(os.environ):
            if name.startswith("OCCUPANCY_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(str(DAGS_FOLDER))

    return load
