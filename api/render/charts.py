"""Charts a package declares in its descriptor's `views`, drawn as inline SVG on the server.

A view follows the shape of the Data Package `views` draft: a `name`, a `title`, the
`resources` it reads (one) and a `spec` naming the `x` (a date field), `y` (a number field),
`series` and `qualifier` fields, and a `filter`: a rows query string, read by the rows API's own
parser. Every row is one marker: figures of one date are never merged or averaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from math import floor, log10
from typing import Any

WIDTH, HEIGHT = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 72, 48, 16, 48
PALETTE = ("#1f5fa8", "#b4440e", "#2e7d32", "#6a1b9a", "#8d6e00", "#00695c")
# How a qualifier is drawn: (shape, legend text).
QUALIFIER_SHAPES: dict[str, tuple[str, str]] = {
    "": ("dot", "exact figure"),
    "exact": ("dot", "exact figure"),
    "approximately": ("ring", "approximately (hollow)"),
    "about": ("ring", "approximately (hollow)"),
    "more_than": ("up", "more than / at least (triangle up)"),
    "at_least": ("up", "more than / at least (triangle up)"),
    "over": ("up", "more than / at least (triangle up)"),
    "fewer_than": ("down", "fewer than / at most (triangle down)"),
    "less_than": ("down", "fewer than / at most (triangle down)"),
    "at_most": ("down", "fewer than / at most (triangle down)"),
}
SPREAD = 7  # pixels between markers of one date and series
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
TEXT_STYLE = f' font-family="{FONT}" font-size="12" fill="#333"'


@dataclass(frozen=True)
class ChartView:
    """One chart declared in a descriptor's `views`."""

    name: str
    title: str
    resource: str
    x: str
    y: str
    series: str | None = None
    qualifier: str | None = None
    filter: str = ""
    description: str | None = None


@dataclass(frozen=True)
class Point:
    """One marker: one row of the resource."""

    x: date
    y: float
    series: str
    qualifier: str
    label: str
    href: str | None = None


def read_views(descriptor: Mapping[str, Any]) -> list[ChartView]:
    """The charts a descriptor declares; declarations this engine cannot draw are left out."""
    found = []
    for raw in descriptor.get("views") or []:
        if not isinstance(raw, Mapping):
            continue
        spec = raw.get("spec")
        resources = raw.get("resources") or []
        if not isinstance(spec, Mapping) or not resources or not isinstance(resources[0], str):
            continue
        if not (raw.get("name") and spec.get("x") and spec.get("y")):
            continue
        found.append(
            ChartView(
                name=str(raw["name"]),
                title=str(raw.get("title") or raw["name"]),
                resource=resources[0],
                x=str(spec["x"]),
                y=str(spec["y"]),
                series=str(spec["series"]) if spec.get("series") else None,
                qualifier=str(spec["qualifier"]) if spec.get("qualifier") else None,
                filter=str(spec.get("filter") or ""),
                description=str(raw["description"]) if raw.get("description") else None,
            )
        )
    return found


def shape_of(qualifier: str) -> str:
    """The marker shape of a qualifier (an unknown qualifier is drawn as approximate)."""
    return QUALIFIER_SHAPES.get(qualifier, ("ring", ""))[0]


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    magnitude = 10 ** floor(log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _marker(shape: str, cx: float, cy: float, colour: str) -> str:
    if shape == "dot":
        return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4.5" fill="{colour}" stroke="{colour}"/>'
    if shape == "ring":
        return (
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4.5" fill="#fff" stroke="{colour}"'
            ' stroke-width="2"/>'
        )
    tip, base = (-6, 4.5) if shape == "up" else (6, -4.5)
    path = (
        f"M{cx:.1f},{cy + tip:.1f} L{cx - 5.5:.1f},{cy + base:.1f}"
        f" L{cx + 5.5:.1f},{cy + base:.1f} Z"
    )
    return f'<path d="{path}" fill="{colour}" stroke="{colour}"/>'


def series_colours(points: Sequence[Point]) -> dict[str, str]:
    """A colour for each series, in order of first appearance."""
    names = list(dict.fromkeys(p.series for p in points))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _date_ticks(first: date, last: date, count: int = 6) -> list[date]:
    if first == last:
        return [first]
    step = (last - first) / (count - 1)
    return [first + timedelta(days=round(step.total_seconds() / 86400 * i)) for i in range(count)]


def chart_svg(view: ChartView, points: Sequence[Point]) -> str:
    """The chart as an SVG element: axes, one linked marker per point."""
    title_id = f"chart-{escape(view.name)}-title"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="group" aria-labelledby="{title_id}">'
        f'<title id="{title_id}">{escape(view.title)}</title>'
    )
    return head + plot_svg(points) + "</svg>"


def plot_svg(points: Sequence[Point]) -> str:
    """The axes and markers of a chart, in a WIDTH x HEIGHT box.

    Strokes, fills and fonts are presentation attributes, so the drawing is the same in a page
    (whose stylesheet may override them) and in a file opened on its own.
    """
    if not points:
        return f'<text x="20" y="40"{TEXT_STYLE}>No figures to draw.</text>'
    first, last = min(p.x for p in points), max(p.x for p in points)
    days = max((last - first).days, 1)
    step = _nice_step(max(p.y for p in points))
    top = step * (int(max(p.y for p in points) // step) + 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(day: date) -> float:
        return LEFT + 10 + (plot_w - 20) * (day - first).days / days

    def py(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [f'<g class="axis" stroke="#555"{TEXT_STYLE}>']
    value = 0.0
    while value <= top + 1e-9:
        y = py(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"'
            ' stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" stroke="none">'
            f"{value:,.0f}</text>"
        )
        value += step
    for day in _date_ticks(first, last):
        x = px(day)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 5}"/>'
            f'<text x="{x:.1f}" y="{TOP + plot_h + 20}" text-anchor="middle" stroke="none">'
            f"{day.day} {day:%b %Y}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></g>'
    )
    colours = series_colours(points)
    seen: dict[tuple[date, str], int] = {}
    crowd: dict[tuple[date, str], int] = {}
    for p in points:
        crowd[(p.x, p.series)] = crowd.get((p.x, p.series), 0) + 1
    parts.append('<g class="markers">')
    for p in points:
        key = (p.x, p.series)
        index = seen[key] = seen.get(key, -1) + 1
        dx = (index - (crowd[key] - 1) / 2) * SPREAD
        shape = shape_of(p.qualifier)
        marker = _marker(shape, px(p.x) + dx, py(p.y), colours[p.series])
        marker = marker.replace(
            "/>", f"><title>{escape(p.label)}</title></{marker[1:].split()[0]}>", 1
        )
        classes = f"marker marker-{shape}"
        if p.href:
            parts.append(f'<a href="{escape(p.href)}" class="{classes}">{marker}</a>')
        else:
            parts.append(f'<g class="{classes}">{marker}</g>')
    parts.append("</g>")
    return "".join(parts)


def legend(
    points: Sequence[Point], series_labels: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """What the legend lists: each series with its colour, each qualifier shape drawn."""
    labels = series_labels or {}
    entries = [
        {"kind": "series", "label": labels.get(name, name), "colour": colour, "shape": "dot"}
        for name, colour in series_colours(points).items()
    ]
    shapes = dict.fromkeys(shape_of(p.qualifier) for p in points)
    texts = {shape: text for shape, text in QUALIFIER_SHAPES.values() if text}
    for shape in ("dot", "ring", "up", "down"):
        if shape in shapes:
            entries.append(
                {"kind": "qualifier", "label": texts[shape], "colour": "#333", "shape": shape}
            )
    return entries


def legend_marker(shape: str, colour: str) -> str:
    """One legend entry's marker, drawn in a 16 x 16 box."""
    return _marker(shape, 8, 8, colour)


def legend_swatch(shape: str, colour: str) -> str:
    """A small SVG of one legend entry's marker."""
    return (
        '<svg class="swatch" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">'
        + legend_marker(shape, colour)
        + "</svg>"
    )
