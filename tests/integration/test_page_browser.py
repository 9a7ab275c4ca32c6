"""The prediction page in a real Chromium, against `occupancy serve` and a real MLflow registry.

The champion is a real pipeline fitted on Newark, published to the shared MLflow server
(PostgreSQL + S3 through the artifact proxy); the API is its own `occupancy serve` process.
"""

from __future__ import annotations

import json
import struct
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from api_support import publish, wait_until
from browser_support import chromium, serving
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from occupancy.api.explain import PRICE_FACTORS, SHOWN_EFFECTS
from occupancy.api.page import listing_from_form
from occupancy.data.clean import NUMERIC_FEATURES
from occupancy.data.schema import CLASSES

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "prediction-page.png"
MODEL_NAME = "page-test"
TYPED = (
    "latitude",
    "longitude",
    "accommodates",
    "bedrooms",
    "beds",
    "bathrooms",
    "price",
    "minimum_nights",
    "maximum_nights",
    "host_listings_count",
)
CHOSEN = ("room_type", "property_type", "neighbourhood_cleansed", "host_response_time")
TICKED = ("instant_bookable", "host_is_superhost")
SCRAPED = date(2025, 9, 30)  # the Newark file's scrape


@pytest.fixture(scope="module")
def champion(fitted, mlflow_server) -> Iterator[Any]:
    """The Newark pipeline registered as `page-test@champion` on the shared MLflow server."""
    import mlflow

    model, valid = fitted
    try:
        publish(mlflow_server.url, MODEL_NAME, model, valid.head(50))
    finally:  # process-global: leave no registry behind for the next test module
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    return model


@pytest.fixture(scope="module")
def api_url(champion, mlflow_server, tmp_path_factory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("page") / "home"
    with serving(home, mlflow_server.url, MODEL_NAME, ready=True) as base:
        yield base


@pytest.fixture
def browser(tmp_path) -> Iterator[WebDriver]:
    with chromium(tmp_path / "profile") as driver:
        yield driver


def _blocks(model: Any) -> dict[str, Any]:
    preprocess = model.named_steps["preprocess"]
    return {name: transformer for name, transformer, _ in preprocess.transformers_}


def _options(driver: WebDriver, select_id: str) -> list[str]:
    select = driver.find_element(By.ID, select_id)
    return [o.get_attribute("value") or "" for o in select.find_elements(By.TAG_NAME, "option")]


def _answer(driver: WebDriver) -> tuple[str, dict[str, float]]:
    answer = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "answer"))
    rows = answer.find_elements(By.CSS_SELECTOR, "tr[data-level]")
    probabilities = {
        row.get_attribute("data-level") or "": float(row.get_attribute("data-probability") or "")
        for row in rows
    }
    return answer.get_attribute("data-level") or "", probabilities


def _predict(base: str, listing: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/predict",
        data=json.dumps({"listings": [listing]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def _real_listing(real_data_dir: Path, model: Any) -> dict[str, str]:
    """The first Newark listing whose categories the model knows and whose facts are all there."""
    raw = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, keep_default_na=False
    )
    encoder = _blocks(model)["categorical"].named_steps["encode"]
    known = {
        column: set(map(str, categories))
        for column, categories in zip(CHOSEN, encoder.categories_, strict=True)
    }
    for _, row in raw.iterrows():
        if all(row[c] in known[c] for c in CHOSEN) and all(
            row[c] for c in (*TYPED, *TICKED, "host_since", "name", "bathrooms_text")
        ):
            return {str(k): str(v) for k, v in row.items()}
    raise AssertionError("no complete Newark listing with known categories")


def test_the_form_lists_the_champions_vocabulary(api_url, browser, champion) -> None:
    browser.get(api_url + "/")
    blocks = _blocks(champion)
    encoder = blocks["categorical"].named_steps["encode"]
    for column, categories in zip(
        ("room_type", "property_type", "neighbourhood_cleansed"),
        encoder.categories_,
        strict=False,
    ):
        assert _options(browser, column) == sorted(str(c) for c in categories if c != "missing")
    response_times = sorted(str(c) for c in encoder.categories_[3] if c != "missing")
    assert _options(browser, "host_response_time") == ["", *response_times]  # "" = not given
    ticks = browser.find_elements(By.CSS_SELECTOR, "input[name='amenities']")
    assert sorted(t.get_attribute("value") for t in ticks) == sorted(
        blocks["amenities"].vocabulary_
    )
    medians = dict(
        zip(NUMERIC_FEATURES, blocks["numeric"].named_steps["impute"].statistics_, strict=True)
    )
    price = browser.find_element(By.ID, "price")
    assert float(price.get_attribute("value") or "") == pytest.approx(medians["price"])
    # Every input and select is labelled.
    for element in browser.find_elements(By.CSS_SELECTOR, "input[id], select[id]"):
        name = element.get_attribute("id")
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{name}']"), name
    # With JavaScript: another neighbourhood moves the position to its median, and the
    # amenity search narrows the list.
    neighbourhood = Select(browser.find_element(By.ID, "neighbourhood_cleansed"))
    last = neighbourhood.options[-1]
    neighbourhood.select_by_value(last.get_attribute("value") or "")
    latitude = browser.find_element(By.ID, "latitude").get_attribute("value")
    assert latitude == last.get_attribute("data-latitude")
    search = browser.find_element(By.ID, "amenity-search")
    search.send_keys("wifi")
    shown = [t for t in ticks if t.is_displayed()]
    assert 0 < len(shown) < len(ticks)
    assert all("wifi" in (t.get_attribute("value") or "") for t in shown)
    # On a phone's screen the page reflows to one column: nothing wider than the screen.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    browser.get(api_url + "/")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    price = browser.find_element(By.ID, "price")
    assert price.is_displayed() and price.size["width"] > 250  # a full-width field


def test_a_real_listing_gets_the_answer_post_predict_gives(
    api_url, browser, champion, real_data_dir
) -> None:
    row = _real_listing(real_data_dir, champion)
    browser.get(api_url + "/")
    listing: dict[str, Any] = {}
    for name in CHOSEN:
        Select(browser.find_element(By.ID, name)).select_by_value(row[name])
        listing[name] = row[name]
    for name in TICKED:
        box = browser.find_element(By.ID, name)
        if box.is_selected() != (row[name] == "t"):
            box.click()
        listing[name] = row[name]
    vocabulary = {
        t.get_attribute("value"): t
        for t in browser.find_elements(By.CSS_SELECTOR, "input[name='amenities']")
    }
    for box in vocabulary.values():
        if box.is_selected():
            box.click()
    ticked = [a.lower() for a in json.loads(row["amenities"]) if a.lower() in vocabulary]
    for token in ticked:
        vocabulary[token].click()
    listing["amenities"] = ticked
    for name in TYPED:
        field = browser.find_element(By.ID, name)
        field.clear()
        field.send_keys(row[name])
        listing[name] = row[name]  # as in the CSV: "$1,234.00" for the price
    shared = browser.find_element(By.ID, "bathrooms_text")
    if shared.is_selected() != ("shared" in row["bathrooms_text"].lower()):
        shared.click()
    listing["bathrooms_text"] = row["bathrooms_text"]  # the page says only "shared" or not
    years = f"{(SCRAPED - date.fromisoformat(row['host_since'])).days / 365.25:.1f}"
    for name, value in (("host_since", years), ("name", row["name"]), ("description", "")):
        field = browser.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    listing["host_since"] = listing_from_form({"host_since": years}, [])["host_since"]
    listing["name"] = row["name"]
    browser.find_element(By.ID, "price").send_keys(Keys.ENTER)  # the keyboard submits

    level, probabilities = _answer(browser)
    expected = _predict(api_url, listing)["predictions"][0]
    assert level == expected["occupancy_level"]
    assert probabilities == pytest.approx(expected["probabilities"], abs=1e-12)
    bars = browser.find_elements(By.CSS_SELECTOR, "#answer .bar")
    assert len(bars) == 4
    winner = browser.find_element(By.CSS_SELECTOR, "#answer .bar.winner")
    track = winner.find_element(By.XPATH, "..")
    share = winner.size["width"] / track.size["width"]
    assert share == pytest.approx(max(probabilities.values()), abs=0.02)  # CSS widths, no JS
    assert browser.find_element(By.ID, "model-name").text == MODEL_NAME

    # Why: the fields that moved the answer, as signed bars drawn by the stylesheet.
    effects = browser.find_elements(By.CSS_SELECTOR, "#why tr.effect")
    assert 1 <= len(effects) <= SHOWN_EFFECTS
    for effect in effects:
        bar = effect.find_element(By.CSS_SELECTOR, ".bar")
        raised = float(effect.get_attribute("data-change") or "") >= 0
        assert ("raised" in (bar.get_attribute("class") or "")) == raised
        assert bar.size["width"] > 0 or abs(float(effect.get_attribute("data-change") or "")) < 0.05
    widest = max(e.find_element(By.CSS_SELECTOR, ".bar").size["width"] for e in effects)
    track = effects[0].find_element(By.CSS_SELECTOR, ".track").size["width"]
    assert widest == pytest.approx(track, abs=2)  # the largest effect fills its half
    # What if: four lines of eleven prices, the listing's own price marked.
    chart = browser.find_element(By.CSS_SELECTOR, "#whatif svg.chart")
    assert chart.size["width"] > 200 and chart.size["height"] > 100
    assert len(chart.find_elements(By.TAG_NAME, "polyline")) == len(CLASSES)
    points = chart.find_elements(By.CSS_SELECTOR, "circle.point")
    assert len(points) == len(CLASSES) * len(PRICE_FACTORS)
    price = float(row["price"].replace("$", "").replace(",", ""))
    prices = sorted({float(p.get_attribute("data-price") or "") for p in points})
    assert prices == pytest.approx([round(price * f, 2) for f in PRICE_FACTORS])
    assert chart.find_elements(By.CSS_SELECTOR, "line.current")

    browser.execute_script("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    width, height = _png_size(SCREENSHOT)
    viewport = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert (width, height) == tuple(viewport)
    assert SCREENSHOT.stat().st_size > 20_000  # a rendered page, not a blank image


def test_a_csv_of_twenty_real_listings_gives_twenty_rows_and_a_download(
    api_url, browser, real_data_dir, tmp_path
) -> None:
    raw = pd.read_csv(
        real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str, keep_default_na=False
    ).head(20)
    upload = tmp_path / "twenty.csv"
    raw.to_csv(upload, index=False)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.get(api_url + "/")
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "#batch-form button[type='submit']").click()

    rows = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#batch tr.result")
    )
    assert [r.get_attribute("data-id") for r in rows] == list(raw["id"])
    assert "twenty.csv: 20 scored, 0 refused" in browser.find_element(By.ID, "batch-title").text
    browser.find_element(By.ID, "download").click()
    saved = downloads / "twenty-predictions.csv"
    wait_until(saved.exists, 30, f"the download {saved}")
    results = pd.read_csv(saved, dtype=str)
    assert list(results["id"]) == list(raw["id"])
    assert set(results["status"]) == {"ok"}
    listings = [{k: v for k, v in r.items() if v != ""} for r in raw.head(3).to_dict("records")]
    for listing, result in zip(listings, results.head(3).itertuples(), strict=True):
        expected = _predict(api_url, listing)["predictions"][0]
        assert result.occupancy_level == expected["occupancy_level"]
        assert float(result.p_mid) == pytest.approx(expected["probabilities"]["mid"], abs=1e-9)


def test_an_invalid_price_is_explained_next_to_the_price_field(api_url, browser) -> None:
    browser.get(api_url + "/")
    price = browser.find_element(By.ID, "price")
    price.clear()
    price.send_keys("-5")
    browser.find_element(By.CSS_SELECTOR, "button[type='submit']").click()

    error = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "price-error"))
    assert error.is_displayed()
    assert error.text == "expected a value between 0 and 1e+06, got '-5'"
    container = browser.find_element(By.ID, "price").find_element(By.XPATH, "..")
    assert container.find_elements(By.ID, "price-error")  # beside the field, in its box
    assert browser.find_element(By.ID, "price").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "price").get_attribute("value") == "-5"
    assert not browser.find_elements(By.ID, "answer")
    summary = browser.find_element(By.ID, "error-summary").text
    assert "Price per night" in summary and "{" not in summary


def test_the_basic_form_works_without_javascript(api_url, tmp_path) -> None:
    with chromium(tmp_path / "profile", javascript=False) as driver:
        driver.get(api_url + "/")
        assert not driver.find_element(By.ID, "amenity-search").is_displayed()  # no script ran
        driver.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        level, probabilities = _answer(driver)
    assert level in probabilities and len(probabilities) == 4
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_without_a_champion_the_page_says_how_to_make_one(mlflow_server, browser, tmp_path) -> None:
    with serving(tmp_path / "home", mlflow_server.url, "page-no-champion", ready=False) as base:
        browser.get(base + "/")
        text = browser.find_element(By.ID, "no-model").text
    assert "No model is serving yet" in text
    assert "models:/page-no-champion@champion" in text and "make demo" in text
