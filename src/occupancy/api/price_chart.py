"""The what-if chart's geometry: the four levels' probabilities against the price, as SVG numbers.

The template draws it (templates/price_chart.html) from these coordinates, so the chart is in the
page itself: no script, no library, no inline style (the page's CSP forbids both); colours come
from the stylesheet by level.
"""

from __future__ import annotations

from dataclasses import dataclass

from occupancy.api.explain import PricePoint
from occupancy.data.schema import CLASSES

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 36  # margins for the axes' labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    price: float
    probability: float


@dataclass(frozen=True)
class ChartLine:
    level: str
    points: list[ChartPoint]

    @property
    def path(self) -> str:
        """The polyline's points attribute."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class PriceChart:
    """One line per level, the x position of the listing's own price, and the axes' ticks."""

    lines: list[ChartLine]
    current_x: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: float = TOP + PLOT_HEIGHT
    right: float = LEFT + PLOT_WIDTH


def price_chart(curve: list[PricePoint], base_price: float) -> PriceChart | None:
    """The chart of a price curve (None when there is no curve: no price and no median)."""
    if len(curve) < 2:
        return None
    low, high = curve[0].price, curve[-1].price
    span = (high - low) or 1.0

    def x(price: float) -> float:
        return LEFT + (price - low) / span * PLOT_WIDTH

    def y(probability: float) -> float:
        return TOP + (1 - probability) * PLOT_HEIGHT

    lines = [
        ChartLine(
            level,
            [
                ChartPoint(x(p.price), y(p.probabilities[level]), p.price, p.probabilities[level])
                for p in curve
            ],
        )
        for level in CLASSES
    ]
    x_ticks = [
        Tick(x(p.price), f"{p.price:,.0f}") for p in (curve[0], curve[len(curve) // 2], curve[-1])
    ]
    y_ticks = [Tick(y(share), f"{share:.0%}") for share in (0.0, 0.5, 1.0)]
    return PriceChart(lines, x(base_price), x_ticks, y_ticks)
