"""A declared chart as a file on its own: an SVG document with its title, legend and source line,
and the same document rendered to PNG by resvg (a self-contained wheel, no system libraries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import resvg_py

from api.render.charts import (
    FONT,
    HEIGHT,
    TEXT_STYLE,
    WIDTH,
    ChartView,
    Point,
    legend_marker,
    plot_svg,
)

TITLE_HEIGHT = 36
LEGEND_ROW = 20
SOURCE_LINE = 16
MARGIN = 16
CHAR_WIDTH = 7.0  # a generous width of one 12 px character, to lay the legend out in rows
PNG_ZOOM = 2  # PNG pixels per SVG unit: sharp on high-density screens and in print


def _legend_rows(
    entries: Sequence[Mapping[str, str]],
) -> list[list[tuple[float, Mapping[str, str]]]]:
    """The legend entries flowed into rows that fit the chart's width, each with its x."""
    rows: list[list[tuple[float, Mapping[str, str]]]] = [[]]
    x = float(MARGIN)
    for entry in entries:
        width = 22 + CHAR_WIDTH * len(entry["label"]) + 14
        if rows[-1] and x + width > WIDTH - MARGIN:
            rows.append([])
            x = float(MARGIN)
        rows[-1].append((x, entry))
        x += width
    return rows


def chart_document(
    view: ChartView,
    points: Sequence[Point],
    entries: Sequence[Mapping[str, str]],
    *,
    source: Sequence[str],
) -> str:
    """The chart as a standalone SVG document: title, plot, legend and the source lines."""
    rows = _legend_rows(entries) if points else []
    legend_top = TITLE_HEIGHT + HEIGHT
    source_top = legend_top + LEGEND_ROW * len(rows) + MARGIN
    height = source_top + SOURCE_LINE * len(source) + MARGIN
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title">'
        f'<title id="title">{escape(view.title)}</title>'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>'
        f'<text x="{MARGIN}" y="24" font-family="{FONT}" font-size="16" font-weight="bold"'
        f' fill="#111">{escape(view.title)}</text>'
        f'<g transform="translate(0 {TITLE_HEIGHT})">{plot_svg(points)}</g>'
    ]
    for index, row in enumerate(rows):
        y = legend_top + LEGEND_ROW * index + 8
        for x, entry in row:
            parts.append(
                f'<g transform="translate({x:.1f} {y - 8})">'
                + legend_marker(entry["shape"], entry["colour"])
                + "</g>"
                f'<text x="{x + 22:.1f}" y="{y + 4}"{TEXT_STYLE}>{escape(entry["label"])}</text>'
            )
    for index, line in enumerate(source):
        parts.append(
            f'<text x="{MARGIN}" y="{source_top + SOURCE_LINE * index + 4}" font-family="{FONT}"'
            f' font-size="11" fill="#555">{escape(line)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def png_of(document: str) -> bytes:
    """A standalone SVG document rendered to PNG, on white, at PNG_ZOOM pixels per unit."""
    return bytes(resvg_py.svg_to_bytes(svg_string=document, zoom=PNG_ZOOM, background="#ffffff"))
