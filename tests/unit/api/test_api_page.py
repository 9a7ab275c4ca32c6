"""The prediction page (GET / and POST /) rendered by the app, read as HTML without a browser."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from api_fakes import FakeHolder

from occupancy.api.holder import ServedModel
from occupancy.api.page import PAGE_CSP, level_sentence, listing_from_form
from occupancy.data.clean import MODEL_INPUT_COLUMNS, NUMERIC_FEATURES, treat_frame
from occupancy.training.models import FAMILIES

JERSEY_CITY = "jersey-city_2025-09-25_listings.csv.gz"


_VOID = {"input", "meta", "link", "br", "img", "hr"}


class _Page(HTMLParser):
    """The parts of the page the tests read: options per select, inputs, texts by element id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.options: dict[str, list[str]] = {}
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.amenities: list[str] = []
        self.texts: dict[str, str] = {}
        self.probabilities: dict[str, float] = {}
        self._select: str | None = None
        self._open: list[tuple[str, str | None]] = []  # open elements and their ids
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "select":
            self._select = attributes["id"] or ""
            self.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self.options[self._select].append(attributes["value"] or "")
        elif tag == "input" and attributes.get("name") == "amenities":
            self.amenities.append(attributes["value"] or "")
        elif tag == "input" and attributes.get("id"):
            self.inputs[attributes["id"] or ""] = attributes
        if tag == "tr" and attributes.get("data-probability"):
            self.probabilities[attributes["data-level"] or ""] = float(
                attributes["data-probability"] or "nan"
            )
        if tag not in _VOID:
            self._open.append((tag, attributes.get("id")))
            if attributes.get("id"):
                self.texts.setdefault(attributes["id"] or "", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, element in self._open:
            if element:
                self.texts[element] += data


@pytest.fixture(scope="module")
def example(newark_raw: pd.DataFrame) -> pd.DataFrame:
    """Fifty cleaned validation-like rows, as a model is logged with."""
    return treat_frame(newark_raw.head(50))[list(MODEL_INPUT_COLUMNS)]


@pytest.fixture
def page_client(api, settings, served: ServedModel, example: pd.DataFrame):
    holder = FakeHolder(dataclasses.replace(served, example=example))
    with api(settings, holder) as test_client:
        yield test_client, holder


def _blocks(served: ServedModel) -> dict:
    preprocess = served.model.named_steps["preprocess"]
    return {name: transformer for name, transformer, _ in preprocess.transformers_}


def test_the_form_offers_the_models_own_categories_amenities_and_medians(
    page_client, served: ServedModel
) -> None:
    client, _ = page_client
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = _Page(response.text)
    blocks = _blocks(served)
    encoder = blocks["categorical"].named_steps["encode"]
    for column, categories in zip(
        ("room_type", "property_type", "neighbourhood_cleansed"),
        encoder.categories_[:3],
        strict=True,
    ):
        assert page.options[column] == sorted(str(c) for c in categories if c != "missing")
    response_times = sorted(str(c) for c in encoder.categories_[3] if c != "missing")
    assert page.options["host_response_time"] == ["", *response_times]  # "" is "not given"
    assert sorted(page.amenities) == sorted(blocks["amenities"].vocabulary_)
    medians = dict(
        zip(NUMERIC_FEATURES, blocks["numeric"].named_steps["impute"].statistics_, strict=True)
    )
    for column in ("price", "accommodates", "minimum_nights", "host_listings_count"):
        assert float(page.inputs[column]["value"] or "nan") == pytest.approx(medians[column])
    for column in page.inputs:
        assert f'<label for="{column}"' in response.text  # every input has its label
    assert page.texts["model-version"] == "7"


def test_a_new_champion_changes_the_form(
    page_client, served: ServedModel, real_data_dir: Path
) -> None:
    client, holder = page_client
    newark = _Page(client.get("/").text)
    table = treat_frame(pd.read_csv(real_data_dir / JERSEY_CITY, dtype=str))
    X = table[list(MODEL_INPUT_COLUMNS)]
    model = FAMILIES["logreg"].build({"C": 0.1}, 42).fit(X, table["occupancy_level"])
    holder.current = dataclasses.replace(served, version="8", model=model, example=X.head(50))
    jersey_city = _Page(client.get("/").text)
    encoder = _blocks(holder.current)["categorical"].named_steps["encode"]
    assert jersey_city.options["neighbourhood_cleansed"] == sorted(map(str, encoder.categories_[2]))
    assert set(jersey_city.options["neighbourhood_cleansed"]).isdisjoint(
        newark.options["neighbourhood_cleansed"]
    )
    assert (newark.texts["model-version"], jersey_city.texts["model-version"]) == ("7", "8")


def test_a_submitted_form_gets_the_answer_post_predict_gives(page_client, newark_raw) -> None:
    client, _ = page_client
    row = newark_raw.iloc[3]
    form = {
        name: row[name]
        for name in (
            "neighbourhood_cleansed",
            "latitude",
            "longitude",
            "room_type",
            "property_type",
            "accommodates",
            "bedrooms",
            "beds",
            "bathrooms",
            "price",
            "minimum_nights",
            "maximum_nights",
            "host_listings_count",
        )
    }
    form["price"] = form["price"].replace("$", "").replace(",", "")
    form["instant_bookable"] = "t"
    ticked = ["wifi", "kitchen"]
    response = client.post("/", data={**form, "amenities": ticked})
    assert response.status_code == 200, response.text
    page = _Page(response.text)
    listing = listing_from_form(form | {"host_is_superhost": ""}, ticked)
    expected = client.post("/predict", json={"listings": [listing]}).json()["predictions"][0]
    assert page.probabilities == pytest.approx(expected["probabilities"], abs=1e-12)
    assert f'data-level="{expected["occupancy_level"]}"' in response.text
    assert level_sentence(expected["occupancy_level"]) in page.texts["answer"]


def test_a_refused_price_is_explained_next_to_the_price_field(page_client) -> None:
    client, _ = page_client
    response = client.post("/", data={"price": "<b>-5</b>", "accommodates": "2"})
    assert response.status_code == 422
    page = _Page(response.text)
    message = page.texts["price-error"]
    assert "expected a price" in message and "<b>-5</b>" in message
    assert page.inputs["price"]["aria-describedby"] == "price-error"
    assert "<b>-5</b>" not in response.text  # what the user typed comes back escaped
    assert "{" not in page.texts["error-summary"] and "Traceback" not in response.text


def test_without_a_champion_the_page_says_how_to_make_one(api, settings) -> None:
    with api(settings, FakeHolder(None)) as client:
        for response in (client.get("/"), client.post("/", data={"price": "100"})):
            assert response.status_code == 503
            text = _Page(response.text).texts["no-model"]
            assert "No model is serving yet" in text and "make demo" in text


def test_the_page_may_load_only_its_own_assets_and_post_only_to_itself(page_client) -> None:
    client, _ = page_client
    assert client.get("/").headers["content-security-policy"] == PAGE_CSP
    assert "form-action 'self'" in PAGE_CSP and "style-src 'self'" in PAGE_CSP
    css = client.get("/static/page.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".w-100 { width: 100%; }" in css.text
    assert client.get("/static/page.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/holder.py").status_code == 404
