"""The synthetic listings generator: schema, formats, determinism, hosts, a learnable target."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from occupancy.data.schema import CLASS_LOWER_BOUNDS, RAW_COLUMN_NAMES
from occupancy.data.synth import write_synthetic_listings

ROWS = 3_000


def _generate(tmp_path: Path, rows: int = ROWS, seed: int = 7) -> Path:
    path = tmp_path / f"listings_{rows}_{seed}.csv"
    write_synthetic_listings(path, rows, seed)
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared generated file."""
    return _generate(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def listings(sample: Path) -> pd.DataFrame:
    """The shared sample, read the way the product reads real Inside Airbnb files."""
    return pd.read_csv(sample, low_memory=False)


@pytest.fixture(scope="module")
def raw(sample: Path) -> pd.DataFrame:
    """The shared sample as the exact strings in the file ('' where a value is missing)."""
    return pd.read_csv(sample, dtype=str, keep_default_na=False)


def _classes(occupancy: pd.Series) -> np.ndarray:
    return np.digitize(occupancy.to_numpy(), CLASS_LOWER_BOUNDS[1:])


def test_header_and_shape_match_the_schema(tmp_path: Path, listings: pd.DataFrame) -> None:
    assert tuple(listings.columns) == RAW_COLUMN_NAMES
    assert len(listings) == ROWS
    path = _generate(tmp_path, rows=500)
    table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
    assert tuple(table.column_names) == RAW_COLUMN_NAMES
    assert table.num_rows == 500


def test_same_seed_gives_identical_bytes_whatever_the_chunking(tmp_path: Path) -> None:
    path = _generate(tmp_path, seed=3)
    sink = io.BytesIO()
    write_synthetic_listings(sink, ROWS, 3, chunk_rows=777, on_progress=lambda _: None)
    assert path.read_bytes() == sink.getvalue()


def test_different_seeds_give_different_data(tmp_path: Path) -> None:
    one, two = io.BytesIO(), io.BytesIO()
    write_synthetic_listings(one, 200, 1)
    write_synthetic_listings(two, 200, 2)
    assert one.getvalue() != two.getvalue()


def test_raw_string_formats(listings: pd.DataFrame, raw: pd.DataFrame) -> None:
    prices = listings["price"].dropna()
    assert prices.str.fullmatch(r"\$[\d,]+\.\d\d").all()
    assert 0.05 < listings["price"].isna().mean() < 0.15
    assert (prices.str.replace(r"[$,]", "", regex=True).astype(float) >= 1000).any()
    for column in ("host_response_rate", "host_acceptance_rate"):
        assert raw[column].str.fullmatch(r"\d+%|N/A").all()
        assert raw[column].eq("N/A").any()
    assert raw["latitude"].str.fullmatch(r"40\.\d+").all()
    assert raw["bathrooms"].str.fullmatch(r"(\d+\.\d)?").all()  # pandas-style floats: '1.0'
    assert raw["accommodates"].str.fullmatch(r"\d+").all()  # integers carry no decimals
    for column in ("host_is_superhost", "instant_bookable", "host_has_profile_pic"):
        assert set(listings[column].dropna()) == {"t", "f"}
    amenities = listings["amenities"].map(json.loads)
    assert amenities.map(lambda a: isinstance(a, list) and all(isinstance(x, str) for x in a)).all()
    assert 15 < amenities.map(len).mean() < 45
    assert (
        listings["bathrooms_text"]
        .dropna()
        .str.fullmatch(r"\d+(\.5)? (shared |private )?baths?|(Shared |Private )?[Hh]alf-bath")
        .all()
    )
    for column in ("host_since", "first_review", "last_review", "last_scraped"):
        parsed = pd.to_datetime(listings[column], format="%Y-%m-%d", errors="coerce")
        assert parsed.notna().sum() == listings[column].notna().sum()
    assert listings["host_verifications"].str.fullmatch(r"\['[a-z_]+'(, '[a-z_]+')*\]").all()
    assert (
        listings["listing_url"]
        .eq("https://www.airbnb.com/rooms/" + listings["id"].astype(str))
        .all()
    )
    for column in ("id", "host_id", "accommodates", "minimum_nights", "number_of_reviews"):
        assert listings[column].dtype == np.int64


def test_missingness_follows_the_real_files(listings: pd.DataFrame) -> None:
    missing = listings.isna().mean()
    assert 0.6 < missing["neighborhood_overview"] < 0.78
    assert 0.45 < missing["host_about"] < 0.67
    assert 0.86 < missing["license"] < 0.95
    unreviewed = listings["number_of_reviews"] == 0
    assert listings.loc[unreviewed, "review_scores_rating"].isna().all()
    assert listings.loc[~unreviewed, "review_scores_rating"].notna().all()


def test_ids_are_unique_and_hosts_own_several_listings(listings: pd.DataFrame) -> None:
    assert listings["id"].is_unique
    assert (listings["id"] > 10**17).any()
    per_host = listings.groupby("host_id").size()
    assert per_host.max() >= 5
    assert (per_host == 1).any()
    assert 2.0 < len(listings) / len(per_host) < 4.0
    host_fields = ["host_name", "host_since", "host_is_superhost", "host_listings_count"]
    assert (listings.groupby("host_id")[host_fields].nunique(dropna=False) == 1).all().all()
    counted = listings.groupby("host_id")["id"].transform("size")
    assert listings["calculated_host_listings_count"].eq(counted).all()


def test_target_range_and_class_marginals(listings: pd.DataFrame) -> None:
    occupancy = listings["estimated_occupancy_l365d"]
    assert occupancy.between(0, 255).all()
    shares = np.bincount(_classes(occupancy), minlength=4) / len(occupancy)
    assert ((shares > 0.10) & (shares < 0.40)).all(), shares


def test_leak_columns_agree_with_the_target(listings: pd.DataFrame) -> None:
    occupancy = listings["estimated_occupancy_l365d"]
    assert (occupancy == 0).eq(listings["number_of_reviews_ltm"] == 0).all()
    assert (listings["number_of_reviews"] >= listings["number_of_reviews_ltm"]).all()
    priced = listings["price"].notna()
    price = listings.loc[priced, "price"].str.replace(r"[$,]", "", regex=True).astype(float)
    revenue = listings.loc[priced, "estimated_revenue_l365d"]
    assert np.allclose(revenue, occupancy[priced] * price)
    assert listings.loc[~priced, "estimated_revenue_l365d"].isna().all()
    assert np.corrcoef(occupancy, listings["number_of_reviews_ltm"])[0, 1] > 0.5
    classes = _classes(occupancy)
    assert (~priced)[classes == 0].mean() > 2 * (~priced)[classes == 3].mean()


def test_multiline_quoted_description_round_trips(tmp_path: Path, listings: pd.DataFrame) -> None:
    text = listings["description"].dropna()
    assert text.str.contains("\n").any()
    assert text.str.contains('"').any()
    assert text.str.contains(",").any()
    raw = _generate(tmp_path, rows=400).read_text(encoding="utf-8")
    reread = pd.read_csv(io.StringIO(raw), low_memory=False)
    assert len(reread) == 400
    assert reread["description"].dropna().str.contains("\n").any()


def test_gzip_output_and_progress(tmp_path: Path) -> None:
    seen: list[int] = []
    path = tmp_path / "listings_big.csv.gz"
    write_synthetic_listings(path, 1_200, 5, chunk_rows=500, on_progress=seen.append)
    assert seen == [500, 1_000, 1_200]
    with gzip.open(path, "rb") as zipped:
        assert zipped.readline().decode().rstrip("\n").split(",") == list(RAW_COLUMN_NAMES)
    frame = pd.read_csv(path, low_memory=False)
    assert len(frame) == 1_200
    plain = tmp_path / "plain.csv"
    write_synthetic_listings(plain, 1_200, 5)
    assert gzip.decompress(path.read_bytes()) == plain.read_bytes()


@pytest.mark.parametrize("rows", [0, -5])
def test_rows_below_one_are_rejected(tmp_path: Path, rows: int) -> None:
    with pytest.raises(ValueError, match="rows must be at least 1"):
        write_synthetic_listings(tmp_path / "never.csv", rows)


def test_simple_cold_start_features_predict_the_class(tmp_path: Path) -> None:
    frame = pd.read_csv(_generate(tmp_path, rows=10_000, seed=11), low_memory=False)
    price = frame["price"].str.replace(r"[$,]", "", regex=True).astype(float)
    features = pd.DataFrame(
        {
            "price": price,
            "accommodates": frame["accommodates"],
            "minimum_nights": frame["minimum_nights"],
            "instant_bookable": frame["instant_bookable"].eq("t").astype(int),
            "superhost": frame["host_is_superhost"].map({"t": 1.0, "f": 0.0}),
            "amenities": frame["amenities"].map(lambda a: len(json.loads(a))),
            "room_type": frame["room_type"].astype("category").cat.codes,
        }
    )
    target = _classes(frame["estimated_occupancy_l365d"])
    # One OpenMP thread: on a busy machine, spinning worker threads make this fit take minutes.
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(random_state=0).fit(features[:8_000], target[:8_000])
    score = f1_score(target[8_000:], model.predict(features[8_000:]), average="macro")
    assert score > 0.40, score
