"""DAG tests parse the dags folder under a throwaway Airflow home (fixture in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from dag_support import DAGS_FOLDER


@pytest.fixture(scope="session", autouse=True)
def _airflow(airflow_home: Path) -> Path:
    """Every DAG test runs against the throwaway Airflow home (see tests/conftest.py)."""
    return airflow_home


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
