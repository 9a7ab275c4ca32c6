"""The prediction page (GET / and POST /) rendered by the app, read as HTML without a browser."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import io
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from api_fakes import FakeHolder

from occupancy.api.batch import MAX_PLAIN_BYTES
from occupancy.api.explain import (
    FIELD_COLUMNS,
    PRICE_FACTORS,
    SHOWN_EFFECTS,
    explain,
    typical_values,
)
from occupancy.api.holder import ServedModel
from occupancy.api.middleware import MAX_BODY_BYTES
from occupancy.api.page import PAGE_CSP, level_sentence, listing_from_form
from occupancy.api.schemas import MAX_LISTINGS
from occupancy.data.clean import MODEL_INPUT_COLUMNS, NUMERIC_FEATURES, clean_listings, treat_frame
from occupancy.data.parsing import records_to_raw_strings
from occupancy.data.rows import clean_rows, raw_listing
from occupancy.data.schema import CLASSES
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


def _medians(served: ServedModel) -> dict[str, float]:
    statistics = _blocks(served)["numeric"].named_steps["impute"].statistics_
    return dict(zip(NUMERIC_FEATURES, map(float, statistics), strict=True))


def _form_of(row: pd.Series) -> dict[str, str]:
    form = {name: row[name] for name in FORM_FIELDS}
    form["price"] = form["price"].replace("$", "").replace(",", "")
    return form


FORM_FIELDS = (
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
    form = _form_of(newark_raw.iloc[3])
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


def _attributes(html: str, tag: str, css_class: str) -> list[dict[str, str]]:
    """The attributes of every `tag` element with `css_class`, in document order."""
    found: list[dict[str, str]] = []

    class _Finder(HTMLParser):
        def handle_starttag(self, name: str, attrs: list[tuple[str, str | None]]) -> None:
            attributes = {k: v or "" for k, v in attrs}
            if name == tag and css_class in attributes.get("class", "").split():
                found.append(attributes)

    _Finder().feed(html)
    return found


def test_why_shows_each_fields_measured_effect_on_the_winning_level(
    page_client, served: ServedModel, example: pd.DataFrame, newark_raw
) -> None:
    client, _ = page_client
    form = _form_of(newark_raw.iloc[3]) | {"host_since": "4", "name": "Sunny room near the park"}
    ticked = ["wifi", "kitchen"]
    response = client.post("/", data={**form, "amenities": ticked})
    assert response.status_code == 200, response.text
    level = _Page(response.text).texts["answer-title"].split(":")[-1].strip()
    effects = _attributes(response.text, "tr", "effect")
    assert 1 <= len(effects) <= SHOWN_EFFECTS
    changes = [float(e["data-change"]) for e in effects]
    assert changes == sorted(changes, key=abs, reverse=True)

    # Recomputed here from the definition: replace the field, rescore, compare the winner.
    listing = listing_from_form(form | {"host_is_superhost": ""}, ticked)
    cleaned = clean_listings(records_to_raw_strings([raw_listing(listing)]))
    typical = typical_values(_medians(served), example)
    winner = CLASSES.index(level)
    base = served.predict_proba(cleaned)[0, winner]
    for effect in effects:
        columns = FIELD_COLUMNS[effect["data-field"]]
        replaced = cleaned.assign(**{c: [typical[c]] for c in columns}).astype(cleaned.dtypes)
        expected = (base - served.predict_proba(replaced)[0, winner]) * 100
        assert float(effect["data-change"]) == pytest.approx(expected, abs=1e-9)
    # The fields shown are ones the host answered, named as the form names them.
    assert {e["data-field"] for e in effects} <= {
        *form,
        "amenities",
        "instant_bookable",
        "host_is_superhost",
        "bathrooms_text",
    }


def test_a_field_at_its_typical_value_has_no_effect(page_client, served: ServedModel) -> None:
    client, _ = page_client
    medians = _medians(served)
    response = client.post("/", data={"price": f"{medians['price']:g}", "accommodates": "9"})
    effects = {
        e["data-field"]: float(e["data-change"]) for e in _attributes(response.text, "tr", "effect")
    }
    assert effects.get("price", 0.0) == pytest.approx(0.0, abs=1e-12)
    assert "accommodates" in effects and effects["accommodates"] != 0.0


def test_what_if_scores_the_listing_from_half_to_one_and_a_half_times_its_price(
    page_client, newark_raw
) -> None:
    client, _ = page_client
    form = _form_of(newark_raw.iloc[3])
    response = client.post("/", data=form)
    answer = _Page(response.text).probabilities
    points = _attributes(response.text, "circle", "point")
    assert len(points) == len(CLASSES) * len(PRICE_FACTORS)  # every level at every price
    price = float(form["price"])
    prices = sorted({float(p["data-price"]) for p in points})
    assert prices == pytest.approx([round(price * f, 2) for f in PRICE_FACTORS])
    # At the listing's own price the curve is the answer (the pipeline vs the fast path).
    at_price = {
        level: float(p["data-probability"])
        for level, p in zip([lvl for lvl in CLASSES for _ in PRICE_FACTORS], points, strict=True)
        if float(p["data-price"]) == pytest.approx(price)
    }
    assert at_price == pytest.approx(answer, abs=1e-9)
    assert 'class="current"' in response.text


def test_without_a_price_the_curve_is_around_the_typical_price(
    page_client, served: ServedModel
) -> None:
    client, _ = page_client
    response = client.post("/", data={"accommodates": "2"})
    prices = sorted({float(p["data-price"]) for p in _attributes(response.text, "circle", "point")})
    assert prices[len(prices) // 2] == pytest.approx(round(_medians(served)["price"], 2))
    assert "the typical price (none was given)" in response.text


def test_years_hosting_becomes_the_date_the_host_joined() -> None:
    listing = listing_from_form({"host_since": "2.5"}, [], today=date(2026, 12, 1))
    assert listing["host_since"] == "2024-06-01"
    assert listing["bathrooms_text"] == "private bath"
    assert listing_from_form({"bathrooms_text": "t"}, [])["bathrooms_text"] == "shared bath"


@pytest.mark.parametrize("years", ["-1", "many", "nan", "1e9"])
def test_impossible_years_hosting_are_explained_next_to_the_field(page_client, years) -> None:
    client, _ = page_client
    response = client.post("/", data={"host_since": years})
    assert response.status_code == 422
    page = _Page(response.text)
    assert "expected a number of years from 0 to 100" in page.texts["host_since-error"]
    assert years in page.texts["host_since-error"]


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_an_uploaded_csv_is_scored_row_by_row_with_a_download(page_client, newark_raw) -> None:
    client, _ = page_client
    rows = newark_raw.head(20).copy()
    rows.loc[rows.index[4], "price"] = "cheap"
    response = client.post("/batch", files={"file": ("newark.csv", _csv(rows), "text/csv")})
    assert response.status_code == 200, response.text
    results = _attributes(response.text, "tr", "result")
    assert [r["data-id"] for r in results] == list(rows["id"])
    assert [r["data-status"] for r in results].count("refused") == 1
    assert results[4]["data-status"] == "refused"
    assert "newark.csv: 19 scored, 1 refused" in response.text
    assert "price" in _Page(response.text).texts["batch"] and "cheap" in response.text

    link = _attributes(response.text, "a", "button")[0]
    assert link["download"] == "newark-predictions.csv"
    prefix = "data:text/csv;base64,"
    assert link["href"].startswith(prefix)
    download = pd.read_csv(io.BytesIO(base64.b64decode(link["href"][len(prefix) :])), dtype=str)
    assert list(download["id"]) == list(rows["id"]) and len(download) == 20
    expected = client.post(
        "/predict",
        json={
            "listings": [
                {k: v for k, v in r.items() if v != ""}
                for r in rows.drop(index=rows.index[4]).head(3).to_dict(orient="records")
            ]
        },
    ).json()["predictions"]
    for row, prediction in zip(download.drop(index=4).head(3).itertuples(), expected, strict=True):
        assert row.occupancy_level == prediction["occupancy_level"]
        assert float(row.p_high) == pytest.approx(prediction["probabilities"]["high"], abs=1e-9)


def test_a_gzipped_upload_is_read_too(page_client, newark_raw) -> None:
    client, _ = page_client
    data = gzip.compress(_csv(newark_raw.head(5)))
    response = client.post("/batch", files={"file": ("listings.csv.gz", data, "application/gzip")})
    assert response.status_code == 200, response.text
    assert len(_attributes(response.text, "tr", "result")) == 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"\x00\x01binary", "not a CSV text file"),
        (b"name,price\nx,1\n", "no 'id' column"),
    ],
)
def test_an_upload_that_is_not_a_listings_csv_is_refused_in_words(
    page_client, data, message
) -> None:
    client, _ = page_client
    response = client.post("/batch", files={"file": ("mine.csv", data, "text/csv")})
    assert response.status_code == 422
    error = _Page(response.text).texts["file-error"]
    assert message in error and "'mine.csv'" in error
    assert "Traceback" not in response.text and "{" not in error


def test_an_upload_over_the_apis_batch_limit_is_refused(page_client, newark_raw) -> None:
    client, _ = page_client
    many = pd.concat([newark_raw] * (MAX_LISTINGS // len(newark_raw) + 1), ignore_index=True)
    many["id"] = [str(i + 1) for i in range(len(many))]
    response = client.post("/batch", files={"file": ("big.csv", _csv(many), "text/csv")})
    assert response.status_code == 422
    assert f"more than {MAX_LISTINGS:,} listings" in _Page(response.text).texts["file-error"]


def test_a_batch_post_without_a_file_asks_for_one(page_client) -> None:
    client, _ = page_client
    response = client.post("/batch", data={"x": "1"})
    assert response.status_code == 422
    assert "choose a listings CSV file" in _Page(response.text).texts["file-error"]


def test_an_upload_over_the_body_limit_is_refused_as_a_page(page_client) -> None:
    client, _ = page_client
    data = b"id,host_id\n" + b"1,1\n" * (MAX_BODY_BYTES // 4 + 1)
    response = client.post("/batch", files={"file": ("huge.csv", data, "text/csv")})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "The upload is over 16 MB" in response.text and "occupancy predict" in response.text
    # The JSON API keeps its JSON refusal.
    assert client.post("/predict", content=data).json()["detail"].startswith("request body over")


def test_a_model_without_a_fast_path_is_explained_the_same_by_its_pipeline(
    served: ServedModel, example: pd.DataFrame, newark_raw
) -> None:
    listing = listing_from_form(_form_of(newark_raw.iloc[3]), ["wifi"])
    cleaned = clean_rows([raw_listing(listing)])
    typical = typical_values(_medians(served), example)
    given = [*FORM_FIELDS, "amenities"]
    fast = explain(served, cleaned, given, typical)
    pipeline = explain(dataclasses.replace(served, fast=None), cleaned, given, typical)
    assert {e.field: e.change for e in fast.effects} == pytest.approx(
        {e.field: e.change for e in pipeline.effects}, abs=1e-9
    )
    assert [p for point in fast.curve for p in point.probabilities.values()] == pytest.approx(
        [p for point in pipeline.curve for p in point.probabilities.values()], abs=1e-9
    )


def test_a_malformed_upload_is_a_400_page_not_a_500(page_client) -> None:
    client, _ = page_client
    response = client.post(
        "/batch",
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text


def test_a_gzip_bomb_upload_is_refused_before_it_fills_memory(page_client) -> None:
    client, _ = page_client
    bomb = gzip.compress(b"id,host_id\n" + b"\n" * (MAX_PLAIN_BYTES + 1), compresslevel=9)
    assert len(bomb) < MAX_BODY_BYTES  # it passes the body limit: only its content is too big
    response = client.post("/batch", files={"file": ("bomb.csv.gz", bomb, "application/gzip")})
    assert response.status_code == 422
    assert "decompresses to more than 64 MB" in _Page(response.text).texts["file-error"]


def test_a_truncated_gzip_upload_is_refused_in_words(page_client, newark_raw) -> None:
    client, _ = page_client
    data = gzip.compress(_csv(newark_raw.head(5)))[:-20]
    response = client.post("/batch", files={"file": ("cut.csv.gz", data, "application/gzip")})
    assert response.status_code == 422
    assert "truncated or corrupt gzip" in _Page(response.text).texts["file-error"]
