"""When monitoring asks for retraining: the documented thresholds over a run's measurements.

Each crossed threshold is one reason, a sentence naming the number, its limit and what it was
measured on. Too few rows to trust a number is not a reason: it is said in the report instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from occupancy.config import Settings


@dataclass(frozen=True)
class Decision:
    """Whether to retrain, why, and what could not be judged."""

    retrain: bool
    reasons: list[str] = field(default_factory=list)
    not_judged: list[str] = field(default_factory=list)


def decide(
    settings: Settings,
    drift: Mapping[str, Any],
    performance: Mapping[str, Any] | None,
    champion_test_f1: float | None,
) -> Decision:
    """The retraining decision for a drift report and, when a new scrape was given, its live
    performance (`champion_test_f1` is the champion's own test macro-F1 at promotion)."""
    reasons: list[str] = []
    not_judged: list[str] = []
    rows = int(drift["window"]["rows"])
    if rows < settings.monitoring_min_rows:
        not_judged.append(
            f"drift: {rows} predictions in the window, under OCCUPANCY_MONITORING_MIN_ROWS "
            f"({settings.monitoring_min_rows})"
        )
    else:
        limit = settings.monitoring_max_feature_psi
        drifted = [
            f for f in drift["features"] if _number(f["psi"]) is not None and f["psi"] > limit
        ]
        if drifted:
            shown = ", ".join(f"{f['feature']} {f['psi']:.2f}" for f in drifted[:5])
            more = f" and {len(drifted) - 5} more" if len(drifted) > 5 else ""
            reasons.append(
                f"input drift: PSI over {limit:g} (OCCUPANCY_MONITORING_MAX_FEATURE_PSI) on "
                f"{len(drifted)} feature(s) over {rows} predictions: {shown}{more}"
            )
        levels = _number(drift["predictions"]["psi"])
        if levels is not None and levels > settings.monitoring_max_prediction_psi:
            reasons.append(
                f"prediction drift: the predicted levels' PSI is {levels:.2f}, over "
                f"{settings.monitoring_max_prediction_psi:g} "
                "(OCCUPANCY_MONITORING_MAX_PREDICTION_PSI)"
            )
    if performance is not None:
        matched = int(performance["matched"])
        live = _number(performance["macro_f1"])
        if matched < settings.monitoring_min_matched or live is None:
            not_judged.append(
                f"live performance: {matched} listings matched, under "
                f"OCCUPANCY_MONITORING_MIN_MATCHED ({settings.monitoring_min_matched})"
            )
        elif champion_test_f1 is None:
            not_judged.append("live performance: the champion has no test macro-F1 to compare")
        elif live < champion_test_f1 - settings.monitoring_max_f1_drop:
            reasons.append(
                f"live performance: macro-F1 {live:.3f} over {matched} matched listings, more "
                f"than {settings.monitoring_max_f1_drop:g} (OCCUPANCY_MONITORING_MAX_F1_DROP) "
                f"under the champion's test macro-F1 {champion_test_f1:.3f}"
            )
    return Decision(bool(reasons), reasons, not_judged)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
