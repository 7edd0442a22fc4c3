"""Server-rendered SVG charts of rates with their Wilson 95 % intervals: one bar per group with
whiskers, drawn by `templates/audits/_rate_chart.html` without any JavaScript, with a `<desc>`
that says in words what the bars show (and a table beside every chart on the page)."""

from __future__ import annotations

from dataclasses import dataclass

from audits.stats import wilson_interval

LABEL_WIDTH = 190
PLOT_WIDTH = 420
VALUE_WIDTH = 200
ROW_HEIGHT = 24
TOP = 28
BOTTOM = 24
MAX_BARS = 60
LABEL_CHARS = 28
DASH = "\N{EN DASH}"


@dataclass(frozen=True)
class Bar:
    label: str
    short_label: str
    n: int
    successes: int
    rate: float
    low: float
    high: float
    y: float
    width: float
    whisker_low: float
    whisker_high: float
    text: str


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    title: str
    desc: str
    width: int
    height: int
    label_width: int
    plot_width: int
    row_height: int
    top: int
    bars: list[Bar]
    ticks: list[Tick]
    target_x: float | None
    target_text: str
    left_out: int

    @property
    def plot_bottom(self) -> float:
        return self.top + len(self.bars) * self.row_height

    @property
    def value_x(self) -> int:
        return self.label_width + self.plot_width + 8


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def rate_chart(
    rows: list[tuple[str, int, int]],
    *,
    title: str,
    measure: str = "refusal rate",
    target: float | None = None,
) -> Chart | None:
    """`rows`: (label, successes, n) per bar, groups with n = 0 left out. None when nothing
    is left to draw."""
    rows = [row for row in rows if row[2] > 0]
    if not rows:
        return None
    left_out = max(0, len(rows) - MAX_BARS)
    rows = rows[:MAX_BARS]
    bars = []
    words = []
    for index, (label, successes, n) in enumerate(rows):
        interval = wilson_interval(successes, n)
        rate = successes / n
        y = TOP + index * ROW_HEIGHT
        text = f"{_percent(rate)} ({_percent(interval.low)}{DASH}{_percent(interval.high)}), n={n}"
        bars.append(
            Bar(
                label=label,
                short_label=label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
                n=n,
                successes=successes,
                rate=rate,
                low=interval.low,
                high=interval.high,
                y=y,
                width=round(rate * PLOT_WIDTH, 1),
                whisker_low=round(LABEL_WIDTH + interval.low * PLOT_WIDTH, 1),
                whisker_high=round(LABEL_WIDTH + interval.high * PLOT_WIDTH, 1),
                text=text,
            )
        )
        words.append(f"{label}: {text}")
    desc = (
        f"The {measure} of each group with its 95 % Wilson interval as whiskers. "
        + "; ".join(words)
        + "."
        + (f" {left_out} more are in the table only." if left_out else "")
    )
    if target is not None:
        desc += f" The dashed line marks the target, {_percent(target)}."
    return Chart(
        title=title,
        desc=desc,
        width=LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        height=TOP + len(bars) * ROW_HEIGHT + BOTTOM,
        label_width=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        row_height=ROW_HEIGHT,
        top=TOP,
        bars=bars,
        ticks=[Tick(LABEL_WIDTH + f * PLOT_WIDTH, _percent(f)) for f in (0, 0.25, 0.5, 0.75, 1)],
        target_x=LABEL_WIDTH + target * PLOT_WIDTH if target is not None else None,
        target_text=_percent(target) if target is not None else "",
        left_out=left_out,
    )
