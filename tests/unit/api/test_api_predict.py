"""POST /predict: probabilities in class order from either scoring path, 422 naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from occupancy.api.scoring import FAST_PATH_MAX_ROWS
from occupancy.data.clean import clean_listings
from occupancy.data.schema import CLASSES


def expected_proba(served, rows: list[dict[str, str]]) -> np.ndarray:
    """The logged pipeline's own probabilities, rearranged by name into CLASSES order."""
    proba = served.model.predict_proba(clean_listings(pd.DataFrame(rows, dtype=object)))
    classes = list(served.model.classes_)
    return np.column_stack([proba[:, classes.index(c)] for c in CLASSES])


@pytest.mark.parametrize("n", [1, FAST_PATH_MAX_ROWS, FAST_PATH_MAX_ROWS + 1, 200])
def test_predict_gives_each_listing_its_probabilities_in_class_order(
    client, served, listings, n
) -> None:
    rows = listings(n)
    response = client.post("/predict", json={"listings": rows})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": "airbnb-occupancy-classifier", "version": "7"}
    assert [p["id"] for p in body["predictions"]] == [row["id"] for row in rows]
    got = np.array([list(p["probabilities"].values()) for p in body["predictions"]])
    assert all(list(p["probabilities"]) == list(CLASSES) for p in body["predictions"])
    np.testing.assert_allclose(got, expected_proba(served, rows), atol=1e-6)
    assert [p["occupancy_level"] for p in body["predictions"]] == [
        CLASSES[i] for i in got.argmax(axis=1)
    ]


def test_json_types_and_raw_strings_give_the_same_answer(client) -> None:
    raw = {"price": "$1,234.00", "instant_bookable": "t", "accommodates": "4"}
    typed = {"price": 1234.0, "instant_bookable": True, "accommodates": 4}
    a, b = (
        client.post("/predict", json={"listings": [x]}).json()["predictions"][0]["probabilities"]
        for x in (raw, typed)
    )
    assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("n", [2, FAST_PATH_MAX_ROWS + 6])
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("accommodates", "four", "expected a whole number, got 'four'"),
        ("price", "cheap", "expected a price like $1,234.00, got 'cheap'"),
        ("latitude", 123.4, "expected a value between -90 and 90, got '123.4'"),
    ],
)
def test_a_bad_value_is_422_naming_listing_field_and_expectation(
    client, listings, n, field, value, expected
) -> None:
    rows = listings(n)
    rows[1][field] = value
    response = client.post("/predict", json={"listings": rows})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body", "listings", 1, field], "msg": expected, "type": "value_error"}]
    }


def test_an_unknown_column_is_422_with_the_closest_inside_airbnb_column(client) -> None:
    response = client.post("/predict", json={"listings": [{"pricee": "$5.00"}]})
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "listings", 0, "pricee"]
    assert detail["msg"] == "'pricee' is not an Inside Airbnb column; did you mean 'price'?"
    assert detail["type"] == "extra_forbidden"


@pytest.mark.parametrize("body", [{"listings": []}, {"listings": [{}] * 1001}, {"rows": [{}]}])
def test_an_empty_oversized_or_misnamed_batch_is_422(client, body) -> None:
    assert client.post("/predict", json=body).status_code == 422


def test_nan_is_422_at_its_field(client) -> None:
    response = client.post(
        "/predict",
        content='{"listings": [{"price": NaN}]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert any(d["loc"][:4] == ["body", "listings", 0, "price"] for d in response.json()["detail"])


def test_predict_without_a_model_is_503(no_model_client, listings) -> None:
    response = no_model_client.post("/predict", json={"listings": listings(1)})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["detail"].startswith("not ready: ")


def test_a_malformed_body_is_422_even_without_a_model(no_model_client) -> None:
    response = no_model_client.post("/predict", json={"listings": [{"pricee": "1"}]})
    assert response.status_code == 422
