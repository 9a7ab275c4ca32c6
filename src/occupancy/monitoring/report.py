"""The monitoring report: one self-contained HTML page with its plots drawn as inline SVG.

Three plots — the features' drift (PSI bars against the threshold), the predicted levels' mix per
day against the training validation mix, and the live confusion matrix — and the numbers behind
them in tables. No script and no external file: the page opens the same from the lake, from the
MLflow run's artifacts, or through the API.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from occupancy.data.schema import CLASSES
from occupancy.monitoring.thresholds import Decision

SHOWN_FEATURES = 15
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, BAR_WIDTH = 16, 4, 260, 320
MIX_HEIGHT, MIX_BAR, MIX_GAP = 160, 52, 10
CELL = 56


@dataclass(frozen=True)
class Bar:
    label: str
    y: float
    width: float
    value: str
    over: bool


@dataclass(frozen=True)
class Segment:
    level: str
    y: float
    height: float
    share: float


@dataclass(frozen=True)
class Column:
    label: str
    x: float
    rows: int
    segments: list[Segment]


@dataclass(frozen=True)
class Cell:
    x: float
    y: float
    count: int
    shade: float  # 0..1, share of the true level's row


def drift_bars(features: Sequence[Mapping[str, Any]], limit: float) -> tuple[list[Bar], float]:
    """The largest PSIs as bars, and the threshold's x position; the axis ends past both."""
    shown = [f for f in features if _finite(f["psi"])][:SHOWN_FEATURES]
    top = max([limit * 1.25, *(f["psi"] for f in shown)])
    bars = [
        Bar(
            label=f["feature"],
            y=i * (BAR_HEIGHT + BAR_GAP),
            width=BAR_WIDTH * f["psi"] / top,
            value=f"{f['psi']:.3f}",
            over=f["psi"] > limit,
        )
        for i, f in enumerate(shown)
    ]
    return bars, BAR_WIDTH * limit / top


def mix_columns(reference: Mapping[str, float], daily: Sequence[Mapping[str, Any]]) -> list[Column]:
    """Stacked shares of the levels: the training validation mix, then each day of the window."""
    columns = [_column("training", 0, {k: float(v) for k, v in reference.items()}, 0)]
    for i, day in enumerate(daily, start=1):
        counts = {level: float(day[level]) for level in CLASSES}
        columns.append(_column(day["date"][5:], i, counts, int(sum(counts.values()))))
    return columns


def _column(label: str, index: int, weights: Mapping[str, float], rows: int) -> Column:
    total = sum(weights.values())
    y = 0.0
    segments = []
    for level in CLASSES:
        share = weights.get(level, 0.0) / total if total else 0.0
        segments.append(Segment(level, y, share * MIX_HEIGHT, share))
        y += share * MIX_HEIGHT
    return Column(label, index * (MIX_BAR + MIX_GAP), rows, segments)


def confusion_cells(matrix: Sequence[Sequence[int]]) -> list[Cell]:
    """The confusion matrix's cells, shaded by their share of the true level's listings."""
    cells = []
    for i, row in enumerate(matrix):
        total = sum(row)
        for j, count in enumerate(row):
            cells.append(Cell(j * CELL, i * CELL, int(count), count / total if total else 0.0))
    return cells


def render_report(
    *,
    run_id: str,
    drift: Mapping[str, Any],
    performance: Mapping[str, Any] | None,
    decision: Decision,
    feature_psi_limit: float,
    generated_at: str,
) -> str:
    """The report's HTML."""
    bars, limit_x = drift_bars(drift["features"], feature_psi_limit)
    measured = performance if performance and performance.get("measured") else None
    return (
        _templates()
        .get_template("report.html")
        .render(
            run_id=run_id,
            drift=drift,
            performance=measured,
            decision=decision,
            generated_at=generated_at,
            classes=CLASSES,
            bars=bars,
            limit_x=limit_x,
            limit=feature_psi_limit,
            columns=mix_columns(drift["reference_predictions"], drift["daily_levels"]),
            cells=confusion_cells(measured["confusion"]) if measured else [],
            geometry={
                "bar_height": BAR_HEIGHT,
                "bar_gap": BAR_GAP,
                "label_width": LABEL_WIDTH,
                "bar_width": BAR_WIDTH,
                "mix_height": MIX_HEIGHT,
                "mix_bar": MIX_BAR,
                "mix_gap": MIX_GAP,
                "cell": CELL,
            },
            fmt=_fmt,
        )
    )


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("occupancy.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
