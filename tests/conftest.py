"""Shared test helpers: real Inside Airbnb files and small raw listings frames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Real Inside Airbnb files live outside the repository; tests find them through this setting.
DEFAULT_REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Directory of the real files (OCCUPANCY_TEST_DATA_DIR, default ../shared/data)."""
    path = Path(os.environ.get("OCCUPANCY_TEST_DATA_DIR", DEFAULT_REAL_DATA))
    if not path.is_dir():
        pytest.fail(f"real test data not found at {path}: set OCCUPANCY_TEST_DATA_DIR")
    return path


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings with the local defaults under a temporary home, no AWS or MLflow env leaking in."""
    from occupancy.config import Settings

    for name in list(os.environ):
        if name.startswith(("OCCUPANCY_", "AWS_", "MLFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return Settings(home=tmp_path / ".occupancy")
