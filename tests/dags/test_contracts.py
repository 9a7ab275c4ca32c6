"""Contracts copied across the DAG boundary stay equal to their one source in the package.

DAG files never import the package (the scheduler image has no ML stack), so the run-id rule
and the family list exist twice; these tests are what keeps the copies honest, together with
the chart's values, its schema and the CLI's help.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import yaml
from dag_support import DAGS_FOLDER
from typer.testing import CliRunner

from occupancy.cli import app
from occupancy.errors import EXIT_BAD_INPUT
from occupancy.run_layout import RUN_ID_PATTERN
from occupancy.training.models import FAMILIES

AIRFLOW_CHART = Path(__file__).resolve().parents[2] / "charts" / "airflow"


def _dag_config() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dag_config_under_test", DAGS_FOLDER / "occupancy_airflow" / "config.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_dag_run_id_pattern_is_the_packages_rule() -> None:
    assert f"^{RUN_ID_PATTERN}$" == _dag_config().RUN_ID_PATTERN


def test_dag_runners_and_the_cli_name_the_same_result_file_variable() -> None:
    from occupancy.cli import RESULT_FILE_ENV

    assert RESULT_FILE_ENV == _dag_config().RESULT_FILE_ENV


def test_dag_runners_fail_at_once_on_the_packages_bad_input_exit_code() -> None:
    assert EXIT_BAD_INPUT == _dag_config().EXIT_BAD_INPUT == 2


def test_dag_runners_skip_on_the_packages_skip_exit_code() -> None:
    from occupancy.errors import EXIT_SKIPPED

    assert EXIT_SKIPPED == _dag_config().EXIT_SKIPPED == 3


def test_dag_default_families_are_the_packages_families() -> None:
    assert tuple(FAMILIES) == _dag_config().DEFAULT_FAMILIES


def test_airflow_chart_values_and_schema_offer_exactly_the_packages_families() -> None:
    values = yaml.safe_load((AIRFLOW_CHART / "values.yaml").read_text())
    schema = json.loads((AIRFLOW_CHART / "values.schema.json").read_text())
    enum = schema["properties"]["steps"]["properties"]["families"]["items"]["enum"]
    assert values["steps"]["families"] == list(FAMILIES)
    assert enum == list(FAMILIES)


def test_cli_train_help_names_exactly_the_packages_families() -> None:
    result = CliRunner().invoke(app, ["step", "train", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    help_line = re.sub(r"\s+", " ", result.output)
    named = re.search(r"Model family: ([a-z, ]+?) or ([a-z]+)\.", help_line)
    assert named is not None, help_line
    listed = [*named.group(1).split(", "), named.group(2)]
    assert listed == list(FAMILIES)
