"""Chart tests: helm and checkov from .tools/, subcharts vendored once per session."""

from __future__ import annotations

import subprocess

import pytest
import tools
from chart_support import CHARTS, CHARTS_DIR, Renderer


@pytest.fixture(scope="session")
def helm() -> str:
    binary = tools.helm()
    for chart in CHARTS:
        subprocess.run(
            [binary, "dependency", "build", str(CHARTS_DIR / chart)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return binary


@pytest.fixture(scope="session")
def render(helm: str) -> Renderer:
    return Renderer(helm)
