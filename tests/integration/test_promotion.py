"""Promotion fails closed, against the real MLflow server (PostgreSQL + S3 artifacts).

A champion is replaced only when it is beaten on the same test rows, or when its logged signature
proves it cannot read the new data (a schema change, recorded as such). A transient error
reaching or loading it fails the step (exit 1, retried) and leaves the alias and the parent run
as they were; a rerun after a crash anywhere between registering and recording the decision ends
as an uninterrupted run does. Faults the real server cannot produce on cue are injected into the
client calls the registry makes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from servers import MlflowLauncher, MlflowServer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from occupancy.config import Settings
from occupancy.data.clean import NUMERIC_FEATURES
from occupancy.errors import OccupancyError, RegistryError, UntrustedModelError
from occupancy.registry import DECISION_TAG, FAMILY_TAG, ROLE_TAG, Registry
from occupancy.run_layout import open_run
from occupancy.steps.ingest import run_ingest
from occupancy.steps.promote import run_promote
from occupancy.steps.train import run_train
from occupancy.steps.treat import run_treat
from occupancy.training.dataset import load_processed
from occupancy.training.models import FAMILIES

pytestmark = pytest.mark.integration

REPLACED_TAG = "promotion.champion_replaced"  # the contract: on the parent run and the version
RUNS = ("first", "second")  # two pipeline runs on the same processed data: equal challengers


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, real_data_dir: Path) -> str:
    """A file:// lake where both pipeline runs have Newark ingested and treated."""
    home = tmp_path_factory.mktemp("promotion-lake")
    settings = Settings(home=home / ".occupancy", lake_uri=(home / "lake").as_uri())
    for run_id in RUNS:
        run_ingest(settings, run_id, str(real_data_dir / "newark_2025-09-30_listings.csv.gz"))
        run_treat(settings, run_id)
    return settings.lake_uri


def settings_for(mlflow_url: str, lake: str, home: Path) -> Settings:
    """An MLflow server with a model and an experiment that no other test uses."""
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        home=home / ".occupancy",
        lake_uri=lake,
        mlflow_tracking_uri=mlflow_url,
        model_name=f"promotion-{suffix}",
        experiment_name=f"promotion-{suffix}",
    )


@pytest.fixture
def settings(mlflow_server: MlflowServer, lake: str, tmp_path: Path) -> Settings:
    """The shared MLflow server with a model and an experiment of this test's own."""
    return settings_for(mlflow_server.url, lake, tmp_path)


def champion_version(settings: Settings) -> str | None:
    champion = Registry(settings).champion()
    return None if champion is None else str(champion.version)


def parent_tags(settings: Settings, run_id: str) -> dict[str, str]:
    registry = Registry(settings)
    return dict(registry.run(registry.parent_run(run_id, create=False)).data.tags)


def versions(settings: Settings) -> list[Any]:
    registry = Registry(settings)
    return list(registry.client.search_model_versions(f"name = '{settings.model_name}'"))


def fail_champion_downloads(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, error: Exception
) -> None:
    """Every download of a registered version (the champion) raises `error`; others work."""
    real = mlflow.artifacts.download_artifacts

    def download(*args: Any, **kwargs: Any) -> Any:
        if str(kwargs.get("artifact_uri", "")).startswith(f"models:/{settings.model_name}"):
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)


def fail_once(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """`Registry.<name>` raises a transient RegistryError on its first call only: a crash there."""
    real = getattr(Registry, name)
    calls: list[str] = []

    def flaky(self: Registry, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if len(calls) == 1:
            raise RegistryError(f"MLflow at {self.settings.mlflow_tracking_uri} went away")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Registry, name, flaky)
    return calls


@pytest.fixture
def champion(settings: Settings) -> str:
    """Run `first` trained (logreg) and promoted: the champion's version."""
    run_train(settings, "first", "logreg")
    assert run_promote(settings, "first")["decision"] == "promoted"
    version = champion_version(settings)
    assert version is not None
    return version


@pytest.mark.parametrize(
    "error",
    [
        MlflowException("API request to /get-artifact failed: Connection refused"),
        requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"),
    ],
    ids=["mlflow-error", "connection-error"],
)
def test_a_transient_error_loading_the_champion_fails_the_step_and_a_retry_decides(
    settings, champion, monkeypatch, error
) -> None:
    run_train(settings, "second", "logreg")
    fail_champion_downloads(monkeypatch, settings, error)
    with pytest.raises(OccupancyError, match=rf"models:/{settings.model_name}") as failed:
        run_promote(settings, "second")
    assert failed.value.exit_code == 1  # retried by the runner
    assert champion_version(settings) == champion
    assert DECISION_TAG not in parent_tags(settings, "second")
    assert len(versions(settings)) == 1

    monkeypatch.undo()  # the fault is gone: the retry compares for real
    decision = run_promote(settings, "second")
    assert decision["decision"] == "kept_champion"  # an equal challenger never replaces it
    tags = parent_tags(settings, "second")
    assert tags["promotion.champion_test_f1_macro"] == tags["promotion.challenger_test_f1_macro"]
    assert champion_version(settings) == champion
    assert len(versions(settings)) == 1


def legacy_champion(settings: Settings) -> str:
    """Register and alias a champion of an older schema: it reads `guests`, not `accommodates`."""
    data = load_processed(open_run(settings, "first"), 10**6, 42)
    columns = [c for c in NUMERIC_FEATURES if c != "accommodates"]
    X = data.X("train")[[*columns, "accommodates"]].rename(columns={"accommodates": "guests"})
    model = make_pipeline(
        SimpleImputer(keep_empty_features=True), StandardScaler(), LogisticRegression(max_iter=2000)
    )
    return install_champion(settings, model.fit(X, data.y("train")), X)


def weak_champion(settings: Settings) -> str:
    """Register and alias a champion of today's schema that scores about chance (labels in turn)."""
    X = load_processed(open_run(settings, "first"), 10**6, 42).X("train")
    labels = np.array(["zero", "low", "mid", "high"])[np.arange(len(X)) % 4]
    family = FAMILIES["logreg"]
    return install_champion(settings, family.build(family.grid[0], seed=1).fit(X, labels), X)


def install_champion(settings: Settings, model: Any, X: pd.DataFrame) -> str:
    """Log `model` in a run of its own, register it and move the alias to it: its version."""
    registry = Registry(settings)
    parent = registry.parent_run("legacy")
    tags = {FAMILY_TAG: "legacy", ROLE_TAG: "earlier-release"}
    with registry.family_run(parent, "legacy", tags) as run:
        model_id = run.log_model(model, X.head(50))
    version = str(registry.register(model_id, run.id, {"family": "legacy"}).version)
    registry.set_alias(version)
    return version


def test_a_champion_whose_signature_cannot_read_the_new_data_is_replaced_and_says_so(
    settings,
) -> None:
    old = legacy_champion(settings)
    run_train(settings, "second", "logreg")
    decision = run_promote(settings, "second")
    assert decision["decision"] == "promoted"
    assert f"champion v{old}" in decision["reason"]
    assert "schema change" in decision["reason"]
    assert "guests" in decision["reason"]  # the column the champion needs and the data lacks
    new = champion_version(settings)
    assert new is not None and new != old
    assert parent_tags(settings, "second")[REPLACED_TAG] == "schema_change"
    registered = Registry(settings).client.get_model_version(settings.model_name, new)
    assert registered.tags[REPLACED_TAG] == "schema_change"
    assert registered.tags["promotion_reason"] == decision["reason"]


def test_a_champion_that_fails_to_score_matching_data_is_never_replaced(
    settings, champion, monkeypatch
) -> None:
    from occupancy.registry import artifacts

    real = artifacts.load_skops_model

    class Broken:
        def predict(self, X: Any) -> Any:
            raise ValueError("X has 3 features, but the model is expecting 41 features")

    def load(directory: Path, flavor: Any, model_uri: str) -> Any:
        if model_uri.startswith(f"models:/{settings.model_name}"):
            real(directory, flavor, model_uri)  # the genuine artifact still loads
            return Broken()
        return real(directory, flavor, model_uri)

    run_train(settings, "second", "logreg")
    monkeypatch.setattr(artifacts, "load_skops_model", load)
    with pytest.raises(OccupancyError, match=rf"champion v{champion} could not score") as failed:
        run_promote(settings, "second")
    assert failed.value.exit_code == 2  # a person must look: no retry changes it
    assert champion_version(settings) == champion
    assert DECISION_TAG not in parent_tags(settings, "second")
    assert len(versions(settings)) == 1


def test_an_untrusted_champion_fails_the_step_and_keeps_the_alias(
    settings, champion, monkeypatch
) -> None:
    real = mlflow.artifacts.download_artifacts

    def tampered(*args: Any, **kwargs: Any) -> Any:
        local = real(*args, **kwargs)
        if str(kwargs.get("artifact_uri", "")).startswith(f"models:/{settings.model_name}"):
            mlmodel = Path(local) / "MLmodel"
            spec = yaml.safe_load(mlmodel.read_text())
            spec["flavors"]["sklearn"]["serialization_format"] = "cloudpickle"
            mlmodel.write_text(yaml.safe_dump(spec))
        return local

    run_train(settings, "second", "logreg")
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", tampered)
    with pytest.raises(UntrustedModelError, match="never pickle") as failed:
        run_promote(settings, "second")
    assert failed.value.exit_code == 2
    assert champion_version(settings) == champion
    assert DECISION_TAG not in parent_tags(settings, "second")


@pytest.mark.parametrize("crash_in", ["set_alias", "record_decision"])
def test_a_rerun_after_a_crash_ends_as_an_uninterrupted_run(
    settings, monkeypatch, crash_in
) -> None:
    run_train(settings, "first", "logreg")
    calls = fail_once(monkeypatch, crash_in)
    with pytest.raises(RegistryError, match="went away"):
        run_promote(settings, "first")
    assert DECISION_TAG not in parent_tags(settings, "first")

    decision = run_promote(settings, "first")
    assert calls == [crash_in, crash_in]
    assert decision["decision"] == "promoted"
    assert decision["reason"].startswith("no champion yet")
    assert [str(v.version) for v in versions(settings)] == ["1"]
    assert champion_version(settings) == "1" == decision["version"]
    tags = parent_tags(settings, "first")
    assert tags[DECISION_TAG] == "promoted" and tags["promotion.version"] == "1"
    assert tags["promotion.reason"] == versions(settings)[0].tags["promotion_reason"]
    assert run_promote(settings, "first")["reused"]


def promotion_tags(settings: Settings, run_id: str) -> dict[str, str]:
    return {k: v for k, v in parent_tags(settings, run_id).items() if k.startswith("promotion.")}


@pytest.fixture(scope="module")
def uninterrupted(mlflow_server: MlflowServer, lake: str, tmp_path_factory) -> dict[str, str]:
    """The promotion tags of run `first` over a weak champion, with nothing interrupting it."""
    settings = settings_for(mlflow_server.url, lake, tmp_path_factory.mktemp("uninterrupted"))
    weak_champion(settings)
    run_train(settings, "first", "logreg")
    decision = run_promote(settings, "first")
    assert decision["decision"] == "promoted" and decision["version"] == "2", decision
    assert decision["reason"].startswith("challenger test macro-F1"), decision
    return promotion_tags(settings, "first")


@pytest.mark.parametrize("crash_in", ["set_alias", "record_decision"])
def test_a_rerun_after_a_crash_over_a_champion_records_what_an_uninterrupted_run_does(
    settings, uninterrupted, monkeypatch, crash_in
) -> None:
    weak = weak_champion(settings)
    child = run_train(settings, "first", "logreg")["mlflow_run_id"]
    fail_once(monkeypatch, crash_in)
    with pytest.raises(RegistryError, match="went away"):
        run_promote(settings, "first")
    assert champion_version(settings) == (weak if crash_in == "set_alias" else "2")

    decision = run_promote(settings, "first")
    assert decision["decision"] == "promoted" and decision["version"] == "2"
    assert [v.run_id for v in versions(settings)].count(child) == 1
    assert len(versions(settings)) == 2
    assert champion_version(settings) == "2"
    assert promotion_tags(settings, "first") == uninterrupted


def test_a_failed_version_lookup_on_the_rerun_registers_no_second_version(
    settings, uninterrupted, monkeypatch
) -> None:
    weak_champion(settings)
    child = run_train(settings, "first", "logreg")["mlflow_run_id"]
    fail_once(monkeypatch, "set_alias")
    with pytest.raises(RegistryError):
        run_promote(settings, "first")
    monkeypatch.undo()

    real = MlflowClient.search_model_versions
    lookups: list[str] = []

    def refused_once(self: MlflowClient, *args: Any, **kwargs: Any) -> Any:
        lookups.append("search")
        if len(lookups) == 1:
            raise MlflowException("API request to /model-versions/search failed: reset by peer")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "search_model_versions", refused_once)
    with pytest.raises(RegistryError, match="could not look up the versions") as failed:
        run_promote(settings, "first")
    assert failed.value.exit_code == 1
    assert [v.run_id for v in versions(settings)].count(child) == 1
    assert run_promote(settings, "first")["decision"] == "promoted"
    assert [v.run_id for v in versions(settings)].count(child) == 1
    assert promotion_tags(settings, "first") == uninterrupted


def test_mlflow_stopping_while_the_champion_loads_fails_the_step_and_a_retry_decides(
    mlflow_launcher: MlflowLauncher, lake, tmp_path, uninterrupted, monkeypatch
) -> None:
    from occupancy.registry import artifacts

    server = mlflow_launcher.start()
    settings = settings_for(server.url, lake, tmp_path)
    weak = weak_champion(settings)
    run_train(settings, "first", "logreg")
    real = artifacts.load_with_example

    def load_while_mlflow_stops(model_uri: str, tracking_uri: str) -> Any:
        if model_uri.startswith(f"models:/{settings.model_name}"):
            server.stop()  # a real fault: the server is gone while the champion is fetched
        return real(model_uri, tracking_uri)

    monkeypatch.setattr(artifacts, "load_with_example", load_while_mlflow_stops)
    with pytest.raises(
        RegistryError, match=rf"could not load models:/{settings.model_name}/"
    ) as failed:
        run_promote(settings, "first")
    assert failed.value.exit_code == 1

    monkeypatch.undo()
    mlflow_launcher.restart(server)
    assert champion_version(settings) == weak
    assert DECISION_TAG not in parent_tags(settings, "first")
    assert run_promote(settings, "first")["decision"] == "promoted"
    assert promotion_tags(settings, "first") == uninterrupted
