"""The four steps end to end on the embedded defaults (file:// lake, SQLite MLflow) on real data."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from occupancy.config import Settings
from occupancy.lake import Lake
from occupancy.monitoring.profile import FILE_NAME as PROFILE_FILE
from occupancy.monitoring.profile import check_profile
from occupancy.predict import run_predict
from occupancy.registry import Registry
from occupancy.steps.ingest import run_ingest
from occupancy.steps.promote import run_promote
from occupancy.steps.train import run_train
from occupancy.steps.treat import run_treat
from occupancy.training.models import FAMILIES

pytestmark = pytest.mark.integration

# Reference baselines from tests/data/README.md (host-grouped split, cold-start features).
BASELINE_TEST_F1 = {"newark_2025-09-30": 0.48, "jersey-city_2025-09-25": 0.44}


def local_settings(home: Path) -> Settings:
    """Embedded defaults under `home`, explicit so no OCCUPANCY_*/MLFLOW_* variable leaks in."""
    return Settings(
        home=home,
        lake_uri=(home / "lake").as_uri(),
        mlflow_tracking_uri=f"sqlite:///{home}/mlflow.db",
    )


def run_pipeline(settings: Settings, run_id: str, raw: str) -> dict:
    run_ingest(settings, run_id, raw)
    run_treat(settings, run_id)
    for family in FAMILIES:
        run_train(settings, run_id, family)
    return run_promote(settings, run_id)


@pytest.fixture(scope="module")
def newark_home(tmp_path_factory, real_data_dir):
    """One full pipeline run on Newark, shared by the tests of this module."""
    home = tmp_path_factory.mktemp("newark") / ".occupancy"
    settings = local_settings(home)
    decision = run_pipeline(
        settings, "newark-1", str(real_data_dir / "newark_2025-09-30_listings.csv.gz")
    )
    return settings, decision


def test_pipeline_registers_a_champion_with_provenance_tags(newark_home) -> None:
    settings, decision = newark_home
    assert decision["decision"] == "promoted" and decision["version"] == "1"
    champion = Registry(settings).champion()
    assert champion is not None and str(champion.version) == "1"
    for tag in ("val_f1_macro", "test_f1_macro", "data_digest", "git_sha", "promotion_reason"):
        assert champion.tags.get(tag), tag
    assert champion.tags["promotion_reason"].startswith("no champion yet")


def test_newark_champion_beats_the_reference_baseline(newark_home) -> None:
    _, decision = newark_home
    assert decision["test_f1_macro"] > BASELINE_TEST_F1["newark_2025-09-30"]


def test_every_family_is_a_child_run_with_metrics_and_artifacts(newark_home, tmp_path) -> None:
    settings, _ = newark_home
    registry = Registry(settings)
    children = registry.children(registry.parent_run("newark-1", create=False))
    assert sorted(c.data.tags["occupancy.family"] for c in children) == sorted(FAMILIES)
    for child in children:
        metrics = child.data.metrics
        for key in (
            "val_f1_macro",
            "val_accuracy",
            "val_log_loss",
            "val_f1_low",
            "fit_seconds",
            "predict_ms_one_row",
        ):
            assert key in metrics, (child.data.tags["occupancy.family"], key)
        artifacts = {a.path for a in registry.client.list_artifacts(child.info.run_id)}
        assert {"model_card.md", "confusion_matrix_valid.png", "input_importance.png"} <= artifacts
        assert child.inputs.dataset_inputs, "dataset lineage is logged"
        # The reference profile drift is measured against, from this family's own training rows.
        local = registry.client.download_artifacts(child.info.run_id, PROFILE_FILE, str(tmp_path))
        profile = json.loads(Path(local).read_text())
        check_profile(profile, PROFILE_FILE)
        assert profile["rows"] == int(child.data.params["train_rows"])
        assert sum(profile["classes"].values()) == pytest.approx(1.0)
        assert sum(profile["numeric"]["price"]["shares"]) == pytest.approx(1.0)


def test_rerunning_train_and_promote_changes_nothing(newark_home) -> None:
    settings, decision = newark_home
    again = run_train(settings, "newark-1", "hgb")
    assert again["reused"]
    repeat = run_promote(settings, "newark-1")
    assert repeat["reused"] and repeat["version"] == decision["version"]
    registry = Registry(settings)
    assert len(registry.client.search_model_versions(f"name = '{settings.model_name}'")) == 1


def test_the_monitoring_loop_measures_what_the_api_was_asked_and_asks_for_retraining(
    newark_home, real_data_dir
) -> None:
    """The loop for real: the API serving the champion logs what it scores (Newark, prices x 1.5);
    drift reads that log against the champion's profile (price drifts most); the live
    performance joins it with the real scrape by id (macro-F1 equal to one computed here from
    the API's own answers); the report crosses the drift threshold and says so, in the lake and
    in MLflow."""
    from fastapi.testclient import TestClient
    from sklearn.metrics import f1_score

    from occupancy.api.app import create_app
    from occupancy.steps.drift import run_drift
    from occupancy.steps.performance import run_performance
    from occupancy.steps.report import run_report

    settings, decision = newark_home
    truth_file = real_data_dir / "newark_2025-09-30_listings.csv.gz"
    raw = pd.read_csv(truth_file, dtype=str, keep_default_na=False)
    price = pd.to_numeric(raw["price"].str.replace(r"[$,]", "", regex=True), errors="coerce")
    raw["price"] = (price * 1.5).round(2).astype(str).where(price.notna(), "")
    listings = [{k: v for k, v in r.items() if v != ""} for r in raw.to_dict("records")]
    answered: dict[str, str] = {}
    with TestClient(create_app(settings, poll_seconds=0.5)) as client:
        deadline = time.monotonic() + 120
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the API never loaded the champion"
            threading.Event().wait(0.2)
        for start in range(0, len(listings), 500):
            answer = client.post("/predict", json={"listings": listings[start : start + 500]})
            assert answer.status_code == 200, answer.text
            for row in answer.json()["predictions"]:
                answered[str(row["id"])] = row["occupancy_level"]
    # The API stopped: its log is written. The drift step measures it.
    summary = run_drift(settings, run_id="mon-1", days=1)
    assert summary["model_version"] == str(decision["version"])
    assert summary["rows"] == len(listings)
    assert summary["largest"][0]["feature"] == "price" and summary["largest"][0]["psi"] > 0.25
    lake = Lake(settings.lake_uri)
    report = lake.read_json("monitoring/runs/mon-1/drift.json")
    assert report["window"]["rows"] == len(listings)
    assert sum(sum(v for k, v in d.items() if k != "date") for d in report["daily_levels"]) == len(
        listings
    )
    quiet = run_drift(settings, run_id="mon-quiet", days=1, until="2001-01-01")
    assert quiet["rows"] == 0 and quiet["largest"] == []

    # Live performance, against the real scrape; the expected number from the API's answers.
    nights = pd.to_numeric(raw["estimated_occupancy_l365d"], errors="coerce")
    levels = pd.cut(nights, [-1, 0, 30, 120, 366], labels=["zero", "low", "mid", "high"])
    truth = dict(zip(raw["id"], levels.astype(object), strict=True))
    ids = [i for i in answered if isinstance(truth.get(i), str)]
    expected = f1_score(
        [truth[i] for i in ids],
        [answered[i] for i in ids],
        labels=["zero", "low", "mid", "high"],
        average="macro",
        zero_division=0,
    )
    live = run_performance(settings, run_id="mon-1", truth_uri=str(truth_file), days=1)
    assert live["matched"] == len(ids) > 1000
    assert live["macro_f1"] == pytest.approx(expected, abs=1e-4)

    # The report: over the drift threshold, so retraining is asked for, with the reason.
    result = run_report(settings, run_id="mon-1")
    assert result["retrain"] is True
    assert any(r.startswith("input drift:") and "price" in r for r in result["reasons"])
    html = lake.read_bytes("monitoring/runs/mon-1/report.html").decode()
    assert 'id="drift-plot"' in html and 'id="confusion-plot"' in html and ">price<" in html
    summary_file = lake.read_json("monitoring/runs/mon-1/summary.json")
    assert summary_file["mlflow_run_id"] == result["mlflow_run_id"]
    registry = Registry(settings)
    run = registry.latest_monitoring_run(str(decision["version"]))
    assert run.info.run_id == result["mlflow_run_id"]
    assert run.data.metrics["live_macro_f1"] == pytest.approx(expected, abs=1e-4)
    assert run.data.metrics["psi.price"] > 0.25 and run.data.metrics["retraining_needed"] == 1.0
    assert run.data.tags["monitoring.decision"] == "retrain"
    assert registry.run_artifact_text(run.info.run_id, "report.html") == html
    # A retried report step finds its finished run and logs no second one.
    assert run_report(settings, run_id="mon-1")["mlflow_run_reused"] is True

    # The API exports the report's numbers and serves the report, linked from its page.
    with TestClient(create_app(settings, poll_seconds=0.5)) as client:
        deadline = time.monotonic() + 120
        while "occupancy_monitoring_feature_psi{" not in client.get("/metrics").text:
            assert time.monotonic() < deadline, "the API never read the monitoring report"
            threading.Event().wait(0.2)
        exported = _gauges(client.get("/metrics").text)
        price_psi = exported['occupancy_monitoring_feature_psi{feature="price"}']
        assert price_psi == pytest.approx(run.data.metrics["psi.price"])
        assert exported["occupancy_monitoring_live_macro_f1"] == pytest.approx(expected, abs=1e-4)
        assert exported["occupancy_monitoring_retraining_needed"] == 1.0
        assert exported["occupancy_monitoring_last_report_timestamp_seconds"] > time.time() - 600
        page = client.get("/monitoring/report")
        assert page.status_code == 200 and page.text == html
        assert "script-src" not in page.headers["content-security-policy"]
        assert 'href="/monitoring/report"' in client.get("/").text

    # Measured again (an empty window this time), the report's record is made anew, never a
    # stale one kept: the lake and MLflow say the same.
    run_drift(settings, run_id="mon-1", days=1, until="2001-01-01")
    again = run_report(settings, run_id="mon-1")
    assert again["mlflow_run_reused"] is False and again["mlflow_run_id"] != run.info.run_id
    assert not any(r.startswith("input drift:") for r in again["reasons"])
    newest = registry.latest_monitoring_run(str(decision["version"]))
    assert newest.info.run_id == again["mlflow_run_id"] and "psi.price" not in newest.data.metrics
    assert registry.run(run.info.run_id).info.lifecycle_stage == "deleted"


def _gauges(exposition: str) -> dict[str, float]:
    """Prometheus text exposition: sample name with labels -> value."""
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_an_equal_challenger_does_not_replace_the_champion(newark_home, real_data_dir) -> None:
    settings, _ = newark_home
    decision = run_pipeline(
        settings, "newark-2", str(real_data_dir / "newark_2025-09-30_listings.csv.gz")
    )
    assert decision["decision"] == "kept_champion"
    assert "champion v1 kept" in decision["reason"]
    assert str(Registry(settings).champion().version) == "1"


def test_predict_scores_antwerp_without_the_target_column(
    newark_home, real_data_dir, tmp_path
) -> None:
    settings, _ = newark_home
    out = tmp_path / "antwerp.parquet"
    summary = run_predict(settings, str(real_data_dir / "antwerp_2024-06-29_listings.csv.gz"), out)
    scored = pd.read_parquet(out)
    assert summary["rows"] == len(scored) == 2870
    assert list(scored.columns) == [
        "id",
        "occupancy_level",
        "p_zero",
        "p_low",
        "p_mid",
        "p_high",
        "status",
        "reason",
    ]
    assert summary["rows_scored"] == 2870 and scored["status"].eq("ok").all()
    assert scored["occupancy_level"].isin(["zero", "low", "mid", "high"]).all()
    assert (scored[["p_zero", "p_low", "p_mid", "p_high"]].sum(axis=1) - 1).abs().max() < 1e-9


def _predict_cli(settings: Settings, source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`occupancy predict` as a user runs it, against this module's champion."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OCCUPANCY_", "AWS_", "MLFLOW_"))
    }
    env |= {
        "OCCUPANCY_HOME": str(settings.home),
        "OCCUPANCY_LAKE_URI": settings.lake_uri,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
    }
    return subprocess.run(  # nosec B603
        [
            sys.executable,
            "-m",
            "occupancy",
            "predict",
            "--input",
            str(source),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_predict_cli_refuses_corrupted_rows_and_scores_the_rest_as_before(
    newark_home, real_data_dir, tmp_path
) -> None:
    settings, _ = newark_home
    original = real_data_dir / "antwerp_2024-06-29_listings.csv.gz"
    before = _predict_cli(settings, original, tmp_path / "before.csv")
    assert before.returncode == 0, before.stderr[-2000:]

    listings = pd.read_csv(original, dtype=str, keep_default_na=False)
    listings.loc[10, "price"] = "cheap"
    listings.loc[20, "latitude"] = "999"
    # Categories are open (a new room type is scored, as in the API): this row stays "ok".
    listings.loc[30, "room_type"] = "Spaceship"
    corrupted = tmp_path / "antwerp-corrupted.csv"
    # \r\n rows: pandas then quotes a lone \r (one is in a real host_about) as Arrow needs.
    listings.to_csv(corrupted, index=False, lineterminator="\r\n")
    after = _predict_cli(settings, corrupted, tmp_path / "after.csv")
    assert after.returncode == 0, after.stderr[-2000:]

    scored = pd.read_csv(tmp_path / "after.csv", dtype={"id": str})
    reference = pd.read_csv(tmp_path / "before.csv", dtype={"id": str})
    assert scored["id"].tolist() == listings["id"].tolist()
    refused = scored.index[scored["status"] == "refused"].tolist()
    assert refused == [10, 20]
    assert scored.loc[refused, "reason"].tolist() == [
        "column 'price': expected a price like $1,234.00, got 'cheap'",
        "column 'latitude': expected a value between -90 and 90, got '999'",
    ]
    assert scored.loc[refused, ["occupancy_level", "p_zero", "p_high"]].isna().all(axis=None)
    assert scored.loc[30, "status"] == "ok"
    untouched = scored.index.difference([10, 20, 30])
    assert scored.loc[untouched, "status"].eq("ok").all()
    assert scored.loc[untouched, "occupancy_level"].tolist() == (
        reference.loc[untouched, "occupancy_level"].tolist()
    )
    probabilities = ["p_zero", "p_low", "p_mid", "p_high"]
    assert (
        scored.loc[untouched, probabilities] - reference.loc[untouched, probabilities]
    ).abs().max().max() < 1e-12

    summary = json.loads(after.stdout.strip().splitlines()[-1])
    assert (summary["rows"], summary["rows_scored"], summary["rows_refused"]) == (2870, 2868, 2)
    assert summary["refused_by_column"] == {"price": 1, "latitude": 1}
    assert (
        "predict: 2,868 rows scored, 2 refused (first: row 11, column 'price': expected a price"
        in after.stderr
    )
    assert "row 21, column 'latitude'" in after.stderr


def test_predict_writes_csv_and_refuses_other_extensions(
    newark_home, real_data_dir, tmp_path
) -> None:
    from occupancy.errors import ConfigError

    settings, _ = newark_home
    out = tmp_path / "p.csv"
    run_predict(settings, str(real_data_dir / "newark_2025-09-30_listings.csv.gz"), out)
    assert len(pd.read_csv(out)) == 1872
    with pytest.raises(ConfigError, match=r"must end in \.csv or \.parquet"):
        run_predict(
            settings, str(real_data_dir / "newark_2025-09-30_listings.csv.gz"), tmp_path / "p.xlsx"
        )


def test_jersey_city_champion_beats_the_reference_baseline(tmp_path, real_data_dir) -> None:
    home = tmp_path / ".occupancy"
    settings = local_settings(home)
    decision = run_pipeline(
        settings, "jc-1", str(real_data_dir / "jersey-city_2025-09-25_listings.csv.gz")
    )
    assert decision["test_f1_macro"] > BASELINE_TEST_F1["jersey-city_2025-09-25"]


def test_promote_without_training_names_the_missing_step(tmp_path) -> None:
    from occupancy.errors import NotFoundError

    home = tmp_path / ".occupancy"
    settings = local_settings(home)
    with pytest.raises(NotFoundError, match="MLflow has no pipeline run nope"):
        run_promote(settings, "nope")


def test_unreachable_mlflow_fails_in_one_sentence(tmp_path) -> None:
    from occupancy.errors import RegistryError

    settings = Settings(home=tmp_path, mlflow_tracking_uri="http://127.0.0.1:9")
    with pytest.raises(
        RegistryError,
        match=r"cannot reach MLflow at http://127.0.0.1:9 .*check MLFLOW_TRACKING_URI",
    ):
        Registry(settings)


def test_model_input_example_round_trips(newark_home) -> None:
    settings, _ = newark_home
    model = Registry(settings).load_model(f"models:/{settings.model_name}@{settings.model_alias}")
    assert hasattr(model, "predict_proba")
    assert Path(settings.home / "mlflow.db").exists()
