"""Bar charts drawn on the server as SVG geometry (``templates/_charts.html`` writes the SVG).

No script and no inline style: colours come from classes in ``tracker.css`` (``chart-series-N``),
so the strict Content-Security-Policy holds. Each chart is shown with its numbers as a table
(for screen readers and for anyone who wants the figures), and that table is downloadable as
CSV; the SVG itself is ``aria-hidden``.
"""

from dataclasses import dataclass

WIDTH = 720
HEIGHT = 260
LEFT = 44
BOTTOM = 40
TOP = 12
RIGHT = 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    #: The tooltip (an SVG <title>): the group, series and value.
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    x_labels: list[Tick]
    y_ticks: list[Tick]
    series: list[str]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM


def _nice_maximum(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above the value (at least 1)."""
    step = 1
    while True:
        for multiple in (1, 2, 5):
            if step * multiple >= value:
                return step * multiple
        step *= 10


def grouped_bars(title: str, groups: list[str], series: list[str], values: list[list[int]]):
    """A grouped bar chart: one group per label (e.g. a month), one bar per series in it.

    ``values[g][s]`` is the value of series ``s`` in group ``g``.
    """
    top = _nice_maximum(max((v for row in values for v in row), default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - BOTTOM - TOP
    group_width = plot_width / max(len(groups), 1)
    bar_width = group_width * 0.8 / max(len(series), 1)
    bars = []
    for g, (group, row) in enumerate(zip(groups, values, strict=True)):
        for s, value in enumerate(row):
            height = plot_height * value / top
            bars.append(
                Bar(
                    x=round(LEFT + g * group_width + group_width * 0.1 + s * bar_width, 2),
                    y=round(HEIGHT - BOTTOM - height, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    series=s,
                    title=f"{group}, {series[s]}: {value}",
                )
            )
    x_labels = [
        Tick(round(LEFT + g * group_width + group_width / 2, 2), group)
        for g, group in enumerate(groups)
    ]
    # 0, the middle (when it is a whole number) and the top: never two ticks alike.
    values = sorted({0, top // 2 if top % 2 == 0 else 0, top})
    y_ticks = [Tick(round(HEIGHT - BOTTOM - plot_height * v / top, 2), str(v)) for v in values]
    return BarChart(title, bars, x_labels, y_ticks, series)
