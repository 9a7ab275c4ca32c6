"""The promotion gate per source: a challenger that beats the champion overall but loses a city
by more than the allowed drop is kept out, with the city in the reason.

The registry is stood in for by an object that returns a model whose predictions are fixed per
row, so the scores on each side are known exactly; the scoring, per-source split and rule are
the product's own (the MLflow path is `tests/integration/test_promotion.py`).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from occupancy.config import Settings
from occupancy.registry.artifacts import LoadedModel
from occupancy.steps.promote import _decide, _TestRows
from occupancy.training import evaluate

LEVELS = np.array(["zero", "low", "mid", "high"], dtype=object)
ROWS = 200  # per source


def _rows() -> _TestRows:
    truth = np.tile(LEVELS, ROWS // 2)  # a: 200 rows, then b: 200 rows
    sources = np.repeat(["city-a_2025-01-01", "city-b_2025-01-01"], ROWS)
    X = pd.DataFrame({"row": np.arange(2 * ROWS)})
    return _TestRows(X, pd.Series(truth), pd.Series(sources))


def _degrade(truth: np.ndarray, wrong_every: int) -> np.ndarray:
    """The truth with every `wrong_every`-th row shifted to the next level."""
    out = truth.copy()
    idx = np.arange(len(out)) % wrong_every == 0
    shifted = {v: LEVELS[(i + 1) % 4] for i, v in enumerate(LEVELS)}
    out[idx] = [shifted[v] for v in out[idx]]
    return out


class _Fixed:
    """A model whose predictions are given, row by row (the frame's `row` column)."""

    def __init__(self, predictions: np.ndarray) -> None:
        self.predictions = predictions

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.predictions[X["row"].to_numpy()]


def _registry(settings: Settings, champion: np.ndarray) -> SimpleNamespace:
    loaded = LoadedModel(model=_Fixed(champion), example=None, inputs=None)
    return SimpleNamespace(settings=settings, load_version=lambda version: loaded)


@pytest.fixture
def scores() -> tuple[_TestRows, np.ndarray, np.ndarray]:
    test = _rows()
    truth = test.y.to_numpy()
    # Challenger: perfect on a, every 2nd row wrong on b. Champion: every 2nd row wrong on a,
    # every 10th wrong on b: worse overall, much better on b.
    challenger = np.concatenate([truth[:ROWS], _degrade(truth[ROWS:], 2)])
    champion = np.concatenate([_degrade(truth[:ROWS], 2), _degrade(truth[ROWS:], 10)])
    return test, challenger, champion


def _decision(settings: Settings, scores, **overrides):  # type: ignore[no-untyped-def]
    test, challenger, champion = scores
    settings = settings.model_copy(update=overrides)
    challenger_f1 = evaluate.macro_f1(test.y, challenger)
    return _decide(
        settings,
        _registry(settings, champion),
        SimpleNamespace(version=7),
        test,
        challenger_f1,
        test.by_source(challenger),
    )


def test_a_challenger_better_overall_but_worse_on_one_city_is_kept_out(
    isolated_settings, scores
) -> None:
    test, challenger, champion = scores
    assert evaluate.macro_f1(test.y, challenger) > evaluate.macro_f1(test.y, champion)
    decision = _decision(isolated_settings, scores)
    assert decision.promote is False
    assert "loses on source city-b_2025-01-01" in decision.reason
    assert "OCCUPANCY_PROMOTION_MAX_SOURCE_DROP=0.05" in decision.reason
    # Both sides' per-source scores are known to the record, on the same rows.
    assert set(decision.champion_sources) == {"city-a_2025-01-01", "city-b_2025-01-01"}
    assert decision.champion_sources["city-b_2025-01-01"][1] == ROWS


def test_the_per_source_rule_follows_its_settings(isolated_settings, scores) -> None:
    assert _decision(isolated_settings, scores, promotion_max_source_drop=0.9).promote is True
    # A source with fewer test rows than the minimum is not judged on its own.
    too_few = _decision(isolated_settings, scores, promotion_min_source_rows=ROWS + 1)
    assert too_few.promote is True and "within the allowed drop" in too_few.reason
