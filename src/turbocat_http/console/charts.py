"""Line charts as SVG geometry, computed here and drawn by a template (no script needed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 640
HEIGHT: Final = 200
PAD_LEFT: Final = 56
PAD_BOTTOM: Final = 28
PAD_TOP: Final = 12
PAD_RIGHT: Final = 44  # room for the last label, centred on its point


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str
    """The class that colours the line (the stylesheet has one per series)."""
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    css: str
    points: str
    """``x,y x,y ...`` for a ``<polyline>``; a gap (no value) splits nothing, it is skipped."""
    dots: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    width: int
    height: int
    lines: tuple[Line, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_labels: tuple[tuple[float, str], ...]
    empty: bool
    left: int = PAD_LEFT
    right: int = WIDTH - PAD_RIGHT


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    top: float | None = None,
) -> Chart:
    """Each series over the same ``labels``; the y axis from 0 to ``top`` (default: the
    largest value, rounded up)."""
    values = [v for s in series for v in s.values if v is not None]
    peak = top if top is not None else _nice(max(values, default=0.0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    count = max(len(labels), 1)

    def x_at(i: int) -> float:
        return PAD_LEFT + (plot_w * (i + 0.5) / count)

    def y_at(value: float) -> float:
        share = value / peak if peak else 0.0
        return PAD_TOP + plot_h * (1 - share)

    lines = []
    for one in series:
        dots = tuple(
            (round(x_at(i), 1), round(y_at(v), 1), f"{labels[i]}: {_format(v, unit)}")
            for i, v in enumerate(one.values)
            if v is not None
        )
        points = " ".join(f"{x},{y}" for x, y, _ in dots)
        lines.append(Line(name=one.name, css=one.css, points=points, dots=dots))
    ticks = tuple(
        (round(y_at(peak * share), 1), _format(peak * share, unit)) for share in (0, 0.5, 1)
    )
    step = max(1, len(labels) // 6)
    x_labels = tuple((round(x_at(i), 1), labels[i]) for i in range(0, len(labels), step))
    return Chart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        lines=tuple(lines),
        y_ticks=ticks,
        x_labels=x_labels,
        empty=not values,
    )


def _nice(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value)))
    for share in (0.1, 0.2, 0.25, 0.5, 1.0):
        if value <= magnitude * share:
            return float(magnitude * share)
    return float(magnitude)


def _format(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "ms":
        return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"
    return f"{value:g}"
