"""The e2e suite renders step pods with Airflow, so it shares the DAG tests' throwaway home."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _airflow(airflow_home: Path) -> Path:
    return airflow_home
