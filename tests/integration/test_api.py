"""The prediction API against a real registry: contract, errors, token, metrics, hot swap."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import pandas as pd
import pytest
from api_support import publish, wait_ready, wait_until
from fastapi.testclient import TestClient
from pydantic import SecretStr

from occupancy.api.app import create_app
from occupancy.config import Settings
from occupancy.lake import Lake
from occupancy.run_layout import RunLayout
from occupancy.steps.ingest import run_ingest
from occupancy.steps.promote import run_promote
from occupancy.steps.train import run_train
from occupancy.steps.treat import run_treat
from occupancy.training.dataset import load_processed
from occupancy.training.models import FAMILIES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(tmp_path_factory, real_data_dir) -> dict:
    """A champion trained on Newark (two families) in a local SQLite registry."""
    home = tmp_path_factory.mktemp("api") / ".occupancy"
    settings = Settings(
        home=home,
        lake_uri=(home / "lake").as_uri(),
        mlflow_tracking_uri=f"sqlite:///{home}/mlflow.db",
        api_token=SecretStr("s3cret"),
    )
    run_ingest(settings, "api-1", str(real_data_dir / "newark_2025-09-30_listings.csv.gz"))
    run_treat(settings, "api-1")
    for family in ("logreg", "hgb"):
        run_train(settings, "api-1", family)
    run_promote(settings, "api-1")
    data = load_processed(RunLayout(Lake(settings.lake_uri), "api-1"), 10**6, 42)
    raw = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, keep_default_na=False
    )
    return {"settings": settings, "valid": data.X("valid"), "y_valid": data.y("valid"), "raw": raw}


@pytest.fixture
def client(trained):
    app = create_app(trained["settings"], poll_seconds=0.2)
    with TestClient(app) as test_client:
        wait_ready(test_client)
        yield test_client


def csv_row(trained, i: int = 0) -> dict:
    return trained["raw"].iloc[i].to_dict()


def test_health_and_model_endpoints(client) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready").json()
    assert ready["status"] == "ready"
    info = client.get("/model").json()
    assert info["alias"] == "champion"
    assert info["version"] == "1"
    assert info["run_id"]
    assert info["metrics"]["test_f1_macro"] > 0
    assert info["last_error"] is None
    assert info["fast_path"] is True  # compiled and verified against the logged model


def test_predict_accepts_a_csv_row_as_is(client, trained) -> None:
    response = client.post(
        "/predict", json={"listings": [csv_row(trained, 0), csv_row(trained, 1)]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "airbnb-occupancy-classifier", "version": "1"}
    assert [p["id"] for p in body["predictions"]] == [
        trained["raw"].iloc[0]["id"],
        trained["raw"].iloc[1]["id"],
    ]
    for prediction in body["predictions"]:
        assert prediction["occupancy_level"] in ("zero", "low", "mid", "high")
        assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-9
        assert prediction["occupancy_level"] == max(
            prediction["probabilities"], key=prediction["probabilities"].get
        )
    assert response.headers["x-request-id"]


def test_json_types_and_raw_strings_give_the_same_answer(client) -> None:
    raw = {
        "price": "$1,234.00",
        "instant_bookable": "t",
        "accommodates": "4",
        "amenities": '["Wifi", "Kitchen"]',
        "host_response_rate": "95%",
        "room_type": "Entire home/apt",
    }
    typed = {
        "price": 1234.0,
        "instant_bookable": True,
        "accommodates": 4,
        "amenities": ["Wifi", "Kitchen"],
        "host_response_rate": "95%",
        "room_type": "Entire home/apt",
    }
    a = client.post("/predict", json={"listings": [raw]}).json()["predictions"][0]["probabilities"]
    b = client.post("/predict", json={"listings": [typed]}).json()["predictions"][0][
        "probabilities"
    ]
    assert a == pytest.approx(b, abs=1e-12)


def test_unknown_categories_are_fine(client) -> None:
    response = client.post(
        "/predict",
        json={
            "listings": [{"room_type": "Treehouse on Mars", "neighbourhood_cleansed": "Nowhere"}]
        },
    )
    assert response.status_code == 200


def test_unknown_field_is_named_with_the_closest_column(client) -> None:
    response = client.post("/predict", json={"listings": [{"pricee": "$5.00"}]})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "listings", 0, "pricee"]
    assert detail["msg"] == "'pricee' is not an Inside Airbnb column; did you mean 'price'?"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("accommodates", "four", "expected a whole number, got 'four'"),
        ("price", "cheap", "expected a price like $1,234.00, got 'cheap'"),
        ("latitude", 123.4, "expected a value between -90 and 90"),
        ("host_since", "2024-02-30", "expected a real calendar date"),
        ("instant_bookable", "maybe", "expected t or f"),
    ],
)
def test_invalid_values_are_422_naming_field_and_expectation(
    client, field, value, expected
) -> None:
    response = client.post("/predict", json={"listings": [{"id": "7"}, {field: value}]})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "listings", 1, field]
    assert expected in detail["msg"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected(client, literal) -> None:
    response = client.post(
        "/predict",
        content=f'{{"listings": [{{"price": {literal}}}]}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert any(d["loc"][:4] == ["body", "listings", 0, "price"] for d in response.json()["detail"])


def test_batch_and_body_limits_are_4xx(client) -> None:
    assert client.post("/predict", json={"listings": []}).status_code == 422
    assert client.post("/predict", json={"listings": [{}] * 1001}).status_code == 422
    huge = json.dumps({"listings": [{"description": "x" * 17_000_000}]})
    assert (
        client.post(
            "/predict", content=huge, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )
    assert (
        client.post(
            "/predict", content=b"not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_reload_requires_the_bearer_token(client) -> None:
    assert client.post("/model/reload").status_code == 401
    assert (
        client.post("/model/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    ok = client.post("/model/reload", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert ok.json()["version"] == "1"


def test_reload_is_refused_when_no_token_is_configured(trained) -> None:
    settings = trained["settings"].model_copy(update={"api_token": None})
    with TestClient(create_app(settings, poll_seconds=60)) as client:
        response = client.post("/model/reload", headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403
        assert "OCCUPANCY_API_TOKEN" in response.json()["detail"]


def test_metrics_expose_requests_predictions_version_and_reloads(client, trained) -> None:
    client.post("/predict", json={"listings": [csv_row(trained)]})
    text = client.get("/metrics").text
    assert 'occupancy_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert "occupancy_http_request_duration_seconds_bucket" in text
    assert "occupancy_predictions_total" in text
    assert (
        'occupancy_model_version_info{name="airbnb-occupancy-classifier",version="1"} 1.0' in text
    )
    assert 'occupancy_model_reloads_total{outcome="loaded"}' in text


def test_openapi_documents_every_inside_airbnb_field(client) -> None:
    schema = client.get("/openapi.json").json()
    listing = schema["components"]["schemas"]["Listing"]
    assert "price" in listing["properties"]
    assert listing["additionalProperties"] is False
    assert client.get("/docs").status_code == 200


@dataclass(frozen=True)
class Answer:
    """One /predict call during the swap: when it ran (monotonic s) and what answered it."""

    started: float
    ended: float
    status: int
    model: dict
    probabilities: tuple[float, ...]


def test_hot_swap_under_load_is_answered_by_both_versions_one_per_response_mid_flight(
    client, trained
) -> None:
    settings = trained["settings"]
    old = client.get("/model").json()["version"]
    # A deliberately different model (other rows, other regularisation), so that each answer's
    # probabilities show which model really computed it, not only which version it names.
    family = FAMILIES["logreg"]
    other = family.build({"C": 0.01}, 7).fit(trained["valid"], trained["y_valid"])
    body = {"listings": [csv_row(trained, 3)]}
    swaps: list[tuple[float, str]] = []  # (when, version) of every model the holder put in place
    client.app.state.holder.add_listener(
        lambda outcome, current: (
            swaps.append((time.monotonic(), current.version))
            if outcome == "loaded" and current is not None
            else None
        )
    )
    answers: list[Answer] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            started = time.monotonic()
            response = client.post("/predict", json=body)
            ended = time.monotonic()
            payload = response.json() if response.status_code == 200 else {}
            answers.append(
                Answer(
                    started,
                    ended,
                    response.status_code,
                    payload.get("model", {}),
                    tuple(payload["predictions"][0]["probabilities"].values()) if payload else (),
                )
            )

    workers = [threading.Thread(target=hammer, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: len(answers) > 100, 60, "requests before the swap")
        new = publish(settings.mlflow_tracking_uri, settings.model_name, other, trained["valid"])
        wait_until(
            lambda: sum(a.model.get("version") == new for a in answers) >= 100,
            120,
            f"100 answers from the new version {new}",
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)

    assert [a.status for a in answers if a.status != 200] == []
    [swapped_at] = [when for when, version in swaps if version == new]
    # Each response names exactly one version, and its numbers come from that version's model.
    assert all(set(a.model) == {"name", "version"} for a in answers)
    by_version = {
        v: {a.probabilities for a in answers if a.model["version"] == v} for v in (old, new)
    }
    assert set(by_version) == {a.model["version"] for a in answers} == {old, new}
    assert all(len(p) == 1 for p in by_version.values()), "one version answered with two models"
    [old_p], [new_p] = by_version[old], by_version[new]
    assert max(abs(x - y) for x, y in zip(old_p, new_p, strict=True)) > 1e-3
    # The swap landed while requests were in flight (one started before it and ended after
    # it), old answers before it, and nothing that started after it got the old model.
    assert any(a.started < swapped_at < a.ended for a in answers)
    assert any(a.model["version"] == old and a.ended < swapped_at for a in answers)
    assert not any(a.model["version"] == old and a.started > swapped_at for a in answers)
    assert client.get("/model").json()["version"] == new


def test_an_empty_listing_is_scored_from_imputed_values(client) -> None:
    # Found by the schema fuzzer: a listing with no fields used to reach the model as zero rows.
    response = client.post("/predict", json={"listings": [{}, {}]})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 2
