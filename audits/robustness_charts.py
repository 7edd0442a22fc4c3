"""The over-/under-refusal trade-off as a server-rendered SVG scatter: over-refusal (x) against
under-refusal (y), one point per system version with its Wilson 95 % intervals as whiskers on
both axes, joined in release order. Drawn by templates/audits/robustness/_tradeoff_chart.html,
with a `<desc>` in words and a table beside it on the page."""

from __future__ import annotations

from dataclasses import dataclass

LEFT = 96
TOP = 24
SIZE = 360
RIGHT = 110
BOTTOM = 48


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    x_low: float
    x_high: float
    y_low: float
    y_high: float
    text: str


@dataclass(frozen=True)
class TradeoffChart:
    title: str
    desc: str
    width: int
    height: int
    left: int
    top: int
    size: int
    points: list[Point]
    path: str
    ticks: list[tuple[float, float, str]]

    @property
    def bottom(self) -> int:
        return self.top + self.size

    @property
    def right(self) -> int:
        return self.left + self.size


def tradeoff_chart(points, *, title: str) -> TradeoffChart | None:
    """`points`: audits.robustness_selectors.TradeoffPoint in release order; those without both
    safe and unsafe prompts cannot be placed and are in the table only."""
    plotted = [p for p in points if p.plotted]
    if not plotted:
        return None

    def sx(v: float) -> float:
        return round(LEFT + v * SIZE, 1)

    def sy(v: float) -> float:
        return round(TOP + (1 - v) * SIZE, 1)

    drawn, words = [], []
    for p in plotted:
        ox, oy = p.over_interval, p.under_interval
        text = (
            f"{p.system_version}: over-refusal {_pct(p.over_rate)} "
            f"({_pct(ox.low)}-{_pct(ox.high)}, n={p.should_answer}), under-refusal "
            f"{_pct(p.under_rate)} ({_pct(oy.low)}-{_pct(oy.high)}, n={p.should_refuse})"
        )
        drawn.append(
            Point(
                label=p.system_version[:24],
                x=sx(p.over_rate),
                y=sy(p.under_rate),
                x_low=sx(ox.low),
                x_high=sx(ox.high),
                y_low=sy(oy.low),
                y_high=sy(oy.high),
                text=text,
            )
        )
        words.append(text)
    path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(drawn))
    desc = (
        "Over-refusal (refusals of prompts that should be answered, across) against "
        "under-refusal (compliance with prompts that should be refused, up), one point per "
        "system version with 95 % Wilson intervals as whiskers, joined in release order. "
        + "; ".join(words)
        + "."
    )
    return TradeoffChart(
        title=title,
        desc=desc,
        width=LEFT + SIZE + RIGHT,
        height=TOP + SIZE + BOTTOM,
        left=LEFT,
        top=TOP,
        size=SIZE,
        points=drawn,
        path=path,
        ticks=[(sx(f), sy(f), _pct(f)) for f in (0, 0.25, 0.5, 0.75, 1)],
    )
