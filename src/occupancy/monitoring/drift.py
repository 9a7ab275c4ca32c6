"""Input drift: a window of listings (cleaned model input) against a model's reference profile.

Per feature, the population stability index over the reference's own bins — numbers: its deciles
and a bin for missing values; categories: its common values, the pooled rest and missing;
amenities: has it or not — and a test statistic: Kolmogorov-Smirnov for numbers (the window's
empirical CDF against the reference's quantile sketch), chi-square for categories. The shift of
the predicted levels is the same PSI over the four levels.

PSI reads as usual: under 0.1 stable, 0.1 to 0.25 a moderate shift, over 0.25 a large one. Zero
shares are floored at EPSILON so a bin that is empty on one side gives a large, finite PSI; an
empty window has no PSI (NaN), not a made-up one.

Own code rather than a library: Evidently (0.7.23) fails to import with pandas 3 here, and the
statistics are a few lines each over SciPy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from occupancy.data.clean import AMENITIES_COLUMN
from occupancy.monitoring.profile import (
    OTHER,
    amenity_shares,
    bin_shares,
    class_shares,
)

EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's shift: PSI, the test's statistic and p-value, and the rows compared."""

    feature: str
    kind: str  # "numeric", "categorical", "amenity" or "prediction"
    psi: float
    statistic: float | None
    p_value: float | None
    window_rows: int


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index between two distributions over the same bins."""
    e = np.clip(np.asarray(expected, dtype="float64"), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype="float64"), EPSILON, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_drift(name: str, reference: Mapping[str, Any], values: pd.Series) -> FeatureDrift:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    if not len(numbers):
        return FeatureDrift(name, "numeric", float("nan"), None, None, 0)
    present = np.sort(numbers[np.isfinite(numbers)])
    missing = 1.0 - len(present) / len(numbers) if len(numbers) else 0.0
    edges = np.asarray(reference["edges"], dtype="float64")
    expected = [
        *(np.asarray(reference["shares"]) * (1 - reference["missing"])),
        reference["missing"],
    ]
    actual = [*(bin_shares(present, edges) * (1 - missing)), missing]
    statistic = p_value = None
    sketch = np.asarray(reference["sketch"], dtype="float64")
    if len(present) and len(sketch):
        statistic, p_value = _ks(present, sketch, int(reference["rows"]))
    return FeatureDrift(name, "numeric", psi(expected, actual), statistic, p_value, len(numbers))


def _ks(present: np.ndarray, sketch: np.ndarray, reference_rows: int) -> tuple[float, float]:
    """KS statistic of sorted window values against the reference's quantile sketch, p-value.

    The reference CDF is the sketch's, linear between distinct sketch values and stepping at a
    repeated one (counts and flags repeat a lot): at x it is F(x), just below x it is F(x-), and
    the statistic compares the window's steps with both.
    """
    values, first = np.unique(sketch, return_index=True)
    last = np.append(first[1:] - 1, len(sketch) - 1)
    step = 1.0 / (len(sketch) - 1)
    # Between two distinct sketch values the CDF climbs one step, linearly; at a value it is
    # its last repeated level, just below it its first.
    index = np.searchsorted(values, present, side="right") - 1
    inside = np.clip(index, 0, len(values) - 1)
    following = np.clip(inside + 1, 0, len(values) - 1)
    gap = values[following] - values[inside]
    fraction = np.divide(present - values[inside], gap, out=np.zeros_like(present), where=gap > 0)
    at = np.where(index < 0, 0.0, np.minimum(1.0, (last[inside] + fraction) * step))
    exact = (index >= 0) & (present == values[inside])
    below = np.where(exact, first[inside] * step, at)
    n = len(present)
    # The window's own CDF after and before each of its (sorted) values; ties take the last.
    upper = np.searchsorted(present, present, side="right") / n
    lower = np.searchsorted(present, present, side="left") / n
    statistic = float(max(np.max(upper - at), np.max(below - lower), 0.0))
    # The sketch is 101 points, not every training row: its own error (about a percentile)
    # would read as significant for big windows, so the reference counts as at most 10,000 rows.
    effective_reference = min(reference_rows, 10_000)
    effective = max(1, round(n * effective_reference / (n + effective_reference)))
    return statistic, float(stats.kstwo.sf(statistic, effective))


def categorical_drift(name: str, reference: Mapping[str, Any], values: pd.Series) -> FeatureDrift:
    shares: dict[str, float] = dict(reference["shares"])
    present = values.dropna().astype(str)
    known = present.where(present.isin(list(shares)), OTHER)
    counts = known.value_counts()
    bins = [*shares, *([OTHER] if OTHER not in shares else [])]
    expected = [shares.get(b, 0.0) * (1 - reference["missing"]) for b in bins]
    expected.append(reference["missing"])
    observed = [float(counts.get(b, 0)) for b in bins] + [float(len(values) - len(present))]
    total = sum(observed)
    if not total:
        return FeatureDrift(name, "categorical", float("nan"), None, None, 0)
    actual = [o / total for o in observed]
    statistic = p_value = None
    if total:
        floor = np.clip(np.asarray(expected), EPSILON, None)
        result = stats.chisquare(observed, floor / floor.sum() * total)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return FeatureDrift(name, "categorical", psi(expected, actual), statistic, p_value, len(values))


def amenity_drift(reference: Mapping[str, float], amenities: pd.Series) -> list[FeatureDrift]:
    """Per amenity of the reference: PSI of having it or not."""
    window = amenity_shares(amenities, list(reference))
    return [
        FeatureDrift(
            f"amenity: {name}",
            "amenity",
            psi([share, 1 - share], [window[name], 1 - window[name]]),
            None,
            None,
            len(amenities),
        )
        for name, share in reference.items()
    ]


def prediction_drift(reference: Mapping[str, float], levels: Sequence[str]) -> FeatureDrift:
    """The predicted levels' mix against the validation predictions' at training."""
    window = class_shares(np.asarray(levels, dtype=object))
    return FeatureDrift(
        "predicted level",
        "prediction",
        psi(list(reference.values()), [window[k] for k in reference]),
        None,
        None,
        len(levels),
    )


def input_drift(profile: Mapping[str, Any], window: pd.DataFrame) -> list[FeatureDrift]:
    """Every profiled feature's drift for a window of cleaned model input, largest PSI first."""
    drifts = [
        numeric_drift(name, reference, window[name])
        for name, reference in profile["numeric"].items()
        if name in window
    ]
    drifts += [
        categorical_drift(name, reference, window[name])
        for name, reference in profile["categorical"].items()
        if name in window
    ]
    if AMENITIES_COLUMN in window:
        drifts += amenity_drift(profile["amenities"], window[AMENITIES_COLUMN])
    # Largest first; a feature without a PSI (nothing to measure in the window) last.
    return sorted(drifts, key=lambda d: (np.isnan(d.psi), -d.psi if not np.isnan(d.psi) else 0))
