"""The registry against an embedded MLflow store (SQLite and local artifacts, no server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from occupancy.config import Settings
from occupancy.data.clean import MODEL_INPUT_COLUMNS, clean_listings
from occupancy.errors import NotFoundError, RegistryError
from occupancy.registry import DECISION_TAG, FAMILY_TAG, MODEL_ID_TAG, ROLE_TAG, Registry
from occupancy.registry.environment import CLIENT_ENV_DEFAULTS
from occupancy.registry.schema import input_columns, schema_change
from occupancy.training.models import FAMILIES


@pytest.fixture(scope="module")
def fitted(real_data_dir: Path) -> tuple[object, pd.DataFrame]:
    """A logreg pipeline fitted on cleaned Newark listings, and fifty of its input rows."""
    raw = pd.read_csv(real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str)
    cleaned = clean_listings(raw)
    labels = np.array(["zero", "low", "mid", "high"])[np.arange(len(cleaned)) % 4]
    family = FAMILIES["logreg"]
    model = family.build(family.grid[0], seed=1).fit(cleaned[list(MODEL_INPUT_COLUMNS)], labels)
    return model, cleaned[list(MODEL_INPUT_COLUMNS)].head(50)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    home = tmp_path_factory.mktemp("registry") / ".occupancy"
    # Explicit: mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI, which Settings would read.
    return Registry(Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}"))


def test_opening_a_registry_sets_client_defaults_without_overriding_the_operators(
    tmp_path, monkeypatch
) -> None:
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: an earlier registry's must not leak in.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    for key in CLIENT_ENV_DEFAULTS.keys() - {"MLFLOW_HTTP_REQUEST_MAX_RETRIES"}:
        monkeypatch.delenv(key, raising=False)
    # Another tracking URI than any opened before: configuration runs again for it.
    Registry(Settings(home=tmp_path / ".occupancy"))
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    assert (
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"]
        == CLIENT_ENV_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    )


def test_parent_run_is_created_once_and_found_again(registry) -> None:
    first = registry.parent_run("p1")
    assert registry.parent_run("p1") == first
    assert registry.parent_run("p1", create=False) == first
    assert registry.run(first).data.tags[ROLE_TAG] == "pipeline"


def test_a_missing_pipeline_run_says_to_train_first(registry) -> None:
    with pytest.raises(NotFoundError, match="MLflow has no pipeline run never: run the train step"):
        registry.parent_run("never", create=False)


def test_family_run_logs_everything_under_its_parent(registry, fitted, tmp_path) -> None:
    model, example = fitted
    parent = registry.parent_run("p2")
    (tmp_path / "model_card.md").write_text("# card\n")
    tags = {FAMILY_TAG: "logreg", ROLE_TAG: "family"}
    with registry.family_run(parent, "logreg", tags) as run:
        run.log_params({"C": 0.1})
        run.log_metrics({"val_f1_macro": 0.5})
        run.log_dataset(example, source="file:///lake/t.parquet", name="t", digest="abc")
        run.log_artifacts(tmp_path)
        model_id = run.log_model(model, example)
    child = registry.finished_child(parent, "logreg")
    assert child is not None and child.info.run_id == run.id
    assert child.data.params["C"] == "0.1"
    assert child.data.metrics["val_f1_macro"] == 0.5
    assert child.data.tags[MODEL_ID_TAG] == model_id
    assert child.data.tags["data_digest"] == "abc"
    assert [c.info.run_id for c in registry.children(parent)] == [run.id]
    assert {a.path for a in registry.client.list_artifacts(run.id)} >= {"model_card.md"}
    assert registry.finished_child(parent, "hgb") is None


def test_a_failed_family_run_is_not_a_finished_child(registry) -> None:
    parent = registry.parent_run("p3")
    with pytest.raises(RuntimeError), registry.family_run(parent, "mlp", {FAMILY_TAG: "mlp"}):
        raise RuntimeError("fit failed")
    assert registry.finished_child(parent, "mlp") is None


def test_register_alias_and_load_the_champion_with_its_example(registry, fitted) -> None:
    model, example = fitted
    assert registry.champion() is None  # no model registered yet: not an error
    parent = registry.parent_run("p4")
    with registry.family_run(parent, "logreg", {FAMILY_TAG: "logreg", ROLE_TAG: "family"}) as run:
        model_id = run.log_model(model, example)
    version = registry.register(model_id, run.id, {"family": "logreg"})
    registry.set_alias(str(version.version))
    champion = registry.champion()
    assert champion is not None and str(champion.version) == str(version.version)
    assert registry.version_for_run(run.id).version == version.version

    loaded = registry.load_version(str(version.version))
    assert loaded.example is not None and loaded.example.shape == example.shape
    expected = model.predict_proba(example)
    assert np.allclose(loaded.model.predict_proba(loaded.example), expected)
    by_alias = registry.load_model(registry.champion_uri)
    assert np.allclose(by_alias.predict_proba(example), expected)


def test_a_decision_is_recorded_with_its_metrics_on_the_parent(registry) -> None:
    parent = registry.parent_run("p5")
    registry.record_decision(parent, {"test_f1_macro": 0.4}, {DECISION_TAG: "kept_champion"})
    recorded = registry.run(parent).data
    assert recorded.tags[DECISION_TAG] == "kept_champion"
    assert recorded.metrics["test_f1_macro"] == 0.4


def test_opening_a_registry_quiets_mlflow_before_it_is_imported(tmp_path) -> None:
    # A fresh interpreter: MLflow reads MLFLOW_LOGGING_LEVEL once, when first imported.
    script = (
        "import logging, sys\n"
        "from occupancy.config import Settings\n"
        "from occupancy.registry import Registry\n"
        "assert 'mlflow' not in sys.modules\n"
        f"Registry(Settings(home={str(tmp_path / '.occupancy')!r}))\n"
        "print(logging.getLevelName(logging.getLogger('mlflow').level))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OCCUPANCY_"))}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ERROR"


def test_a_failed_version_lookup_raises_instead_of_answering_none(registry, monkeypatch) -> None:
    from mlflow.exceptions import MlflowException

    def refused(*_args, **_kwargs):
        raise MlflowException("API request failed: connection refused")

    monkeypatch.setattr(registry.client, "search_model_versions", refused)
    with pytest.raises(RegistryError, match="could not look up the versions of a run") as failed:
        registry.version_for_run("some-run")
    assert failed.value.exit_code == 1


def test_an_os_error_from_an_mlflow_call_is_a_transient_registry_error(registry) -> None:
    def reset(*_args, **_kwargs):
        raise ConnectionResetError("Connection reset by peer")

    with pytest.raises(RegistryError, match="could not load x: Connection reset by peer") as failed:
        registry._call("load x", reset)
    assert failed.value.exit_code == 1


def test_a_decision_is_recorded_in_one_batch_with_the_decision_tag_last(
    registry, monkeypatch
) -> None:
    parent = registry.parent_run("p6")
    batches: list[dict] = []
    real = registry.client.log_batch

    def spy(run_id, **kwargs):
        batches.append(kwargs)
        return real(run_id, **kwargs)

    monkeypatch.setattr(registry.client, "log_batch", spy)
    tags = {DECISION_TAG: "promoted", "promotion.reason": "r", "promotion.version": "3"}
    registry.record_decision(parent, {"test_f1_macro": 0.5}, tags)
    assert len(batches) == 1
    assert [t.key for t in batches[0]["tags"]][-1] == DECISION_TAG
    assert registry.run(parent).data.tags["promotion.version"] == "3"


def _inputs(frame: pd.DataFrame):
    from mlflow.models import infer_signature

    return infer_signature(frame).inputs


def test_a_signature_naming_a_column_the_data_lacks_is_a_schema_change() -> None:
    logged = _inputs(pd.DataFrame({"bedroom_count": [1.0], "room_type": ["a"]}))
    now = pd.DataFrame({"bedrooms": [1.0], "room_type": ["a"]})
    assert schema_change(logged, now) == "it needs columns the new data lacks: bedroom_count"


def test_a_column_that_changed_kind_is_a_schema_change() -> None:
    logged = _inputs(pd.DataFrame({"price": ["$10"], "beds": [1]}))
    now = pd.DataFrame({"price": [10.0], "beds": [2.0]})
    assert schema_change(logged, now) == "columns changed kind: price (text, now number)"


def test_extra_columns_ints_for_doubles_and_no_signature_prove_nothing() -> None:
    logged = _inputs(pd.DataFrame({"beds": [1.5], "is_new": [True]}))
    now = pd.DataFrame({"beds": [2], "is_new": [1.0], "added_later": ["x"]})
    assert schema_change(logged, now) is None
    assert schema_change(None, now) is None
    assert input_columns(logged) == ["beds", "is_new"]


def test_the_loaded_champion_carries_its_logged_input_schema(registry, fitted) -> None:
    model, example = fitted
    parent = registry.parent_run("p7")
    with registry.family_run(parent, "logreg", {FAMILY_TAG: "logreg", ROLE_TAG: "family"}) as run:
        model_id = run.log_model(model, example)
    version = registry.register(model_id, run.id, {"family": "logreg"})
    loaded = registry.load_version(str(version.version))
    assert input_columns(loaded.inputs) == list(MODEL_INPUT_COLUMNS)
    assert schema_change(loaded.inputs, example) is None
    assert "latitude" in schema_change(loaded.inputs, example.drop(columns=["latitude"]))
