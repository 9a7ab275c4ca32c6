"""The compiled fast path gives the logged pipeline's probabilities, for every family."""

from __future__ import annotations

import pandas as pd
import pytest

from occupancy.api.fastpath import compile_pipeline, verify
from occupancy.data.clean import MODEL_INPUT_COLUMNS, clean_listings, treat_frame
from occupancy.training.models import FAMILIES


@pytest.fixture(scope="module")
def newark(real_data_dir):
    table = treat_frame(pd.read_csv(real_data_dir / "newark_2025-09-30_listings.csv.gz", dtype=str))
    return table[list(MODEL_INPUT_COLUMNS)], table["occupancy_level"]


@pytest.fixture(scope="module")
def unseen(real_data_dir):
    """Antwerp listings: other neighbourhoods and property types, plus an all-missing row."""
    antwerp = clean_listings(
        pd.read_csv(real_data_dir / "antwerp_2024-06-29_listings.csv.gz", dtype=str, nrows=300)
    )
    empty = clean_listings(pd.DataFrame([{"id": "1"}]))
    return pd.concat([antwerp, empty], ignore_index=True)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fast_path_matches_the_pipeline_on_seen_and_unseen_listings(family, newark, unseen) -> None:
    X, y = newark
    model = FAMILIES[family].build(FAMILIES[family].grid[0], 42).fit(X, y)
    fast = compile_pipeline(model)
    assert fast is not None
    assert verify(fast, model, X) < 1e-9
    assert verify(fast, model, unseen) < 1e-9


def test_anything_else_compiles_to_none() -> None:
    from sklearn.linear_model import LogisticRegression

    plain = LogisticRegression().fit(pd.DataFrame({"a": [0.0, 1.0]}), ["zero", "high"])
    assert compile_pipeline(plain) is None
