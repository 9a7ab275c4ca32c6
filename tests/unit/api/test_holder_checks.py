"""The pre-swap checks: a fast path or model whose probabilities are not finite is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from occupancy.api import holder as holder_module
from occupancy.api.holder import PROBE_LISTING, ServedModel, check_model, with_fast_path
from occupancy.data.clean import clean_listings


class NonFiniteFastPath:
    """A compiled fast path that answers `value` in one cell of every row."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict_proba(self, sample: pd.DataFrame) -> np.ndarray:
        proba = np.full((len(sample), 4), 0.25)
        proba[:, 0] = self.value
        return proba


class NonFiniteModel:
    """The served model's pipeline, answering NaN for every probability."""

    def __init__(self, model: object) -> None:
        self.classes_ = model.classes_  # type: ignore[attr-defined]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full((len(frame), len(self.classes_)), np.nan)


@pytest.fixture
def plain(served: ServedModel) -> ServedModel:
    return dataclasses.replace(served, fast=None)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_fast_path_with_non_finite_probabilities_is_not_used(
    plain, monkeypatch, value: float
) -> None:
    monkeypatch.setattr(holder_module, "compile_pipeline", lambda _: NonFiniteFastPath(value))
    example = clean_listings(pd.DataFrame([PROBE_LISTING]))
    assert with_fast_path(plain, example).fast is None


def test_a_fast_path_matching_the_model_is_attached(plain) -> None:
    example = clean_listings(pd.DataFrame([PROBE_LISTING]))
    assert with_fast_path(plain, example).fast is not None


def test_a_model_with_nan_probabilities_is_refused(plain) -> None:
    broken = dataclasses.replace(plain, model=NonFiniteModel(plain.model))
    with pytest.raises(ValueError, match="invalid probabilities"):
        check_model(broken, None)
