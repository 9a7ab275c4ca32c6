"""Paths shared by the DAG tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

from pathlib import Path

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
