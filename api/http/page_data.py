"""What the pages read from the database: previews, labels along foreign keys, chart points."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from markupsafe import Markup

from api.db.budget import request_budget
from api.db.releases import LoadedRelease
from api.db.rows import RowReader
from api.deps import Serving
from api.errors import QueryTimeout
from api.metadata.urls import Links
from api.model import TableSpec
from api.query import RowQuery, parse_row_query
from api.render.charts import ChartView, Point, chart_svg, legend

LABEL_FIELDS = ("title", "label", "name", "name_en")  # the field that names a referenced row
LABEL_MAX_ROWS = 20_000  # a referenced table larger than this is linked, not labelled
PREVIEW_ROWS = 5
CHART_MAX_POINTS = 5_000


@dataclass(frozen=True)
class Reference:
    """A one-field foreign key: this field refers to `field` of `resource`."""

    resource: str
    field: str


@dataclass(frozen=True)
class Labels:
    """The referenced rows of one foreign key: key -> label, and key -> the row's `url`."""

    reference: Reference
    names: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def resource_descriptor(release: LoadedRelease, resource: str) -> Mapping[str, Any]:
    """The descriptor of one resource of a release (empty when it has none)."""
    for raw in release.info.descriptor.get("resources", []):
        if raw.get("name") == resource:
            return dict(raw)
    return {}


def references(release: LoadedRelease, resource: str) -> dict[str, Reference]:
    """Each one-field foreign key of a resource, by the field that holds it."""
    schema = resource_descriptor(release, resource).get("schema") or {}
    found = {}
    for key in schema.get("foreignKeys") or []:
        fields, target = key.get("fields"), key.get("reference") or {}
        fields = [fields] if isinstance(fields, str) else list(fields or [])
        targets = target.get("fields")
        targets = [targets] if isinstance(targets, str) else list(targets or [])
        if len(fields) == 1 and len(targets) == 1:
            name = str(target.get("resource") or resource)
            found[fields[0]] = Reference(name, targets[0])
    return found


def referrers(release: LoadedRelease, resource: str) -> list[tuple[str, str, str]]:
    """The (resource, field, referenced field) of every one-field key that points at `resource`."""
    found = []
    for raw in release.info.descriptor.get("resources", []):
        name = str(raw.get("name"))
        for held, ref in references(release, name).items():
            if ref.resource == resource:
                found.append((name, held, ref.field))
    return found


def table(serving: Serving, release: LoadedRelease, resource: str) -> TableSpec:
    """The loaded table of one resource of a release."""
    info = release.info
    return serving.catalog.table_spec(
        info.package, info.version, resource, snapshot=serving.snapshot
    )


async def all_rows(
    serving: Serving, spec: TableSpec, params: Sequence[tuple[str, str]] = ()
) -> list[dict[str, Any]]:
    """Every row matching a rows query string, as dicts (for small selections)."""
    settings = serving.settings
    query = parse_row_query(
        spec, params, default_size=settings.default_page_size, max_size=settings.max_page_size
    )
    reader = RowReader(serving.engine, spec, budget=request_budget(settings))
    columns, rows = await reader.stream(query)
    return [dict(zip(columns, row, strict=True)) for row in rows]


async def shown_total(
    reader: RowReader, query: RowQuery, *, cap: int, seconds: float
) -> tuple[int | None, bool | None]:
    """The total a table page shows, and whether it is exact (None: not counted in time).

    The exact count (`_count=exact`, the page's default) may take `seconds`; past them, or with
    `_count=bounded`, the count stops at `cap`: more than `cap` rows match. `_count=none` skips it.
    """
    if query.count == "none":
        return None, None
    if query.count == "exact":
        with contextlib.suppress(QueryTimeout):
            return await reader.count(query, at_most=seconds), True
    try:
        counted, exact = await reader.count_at_most(query, cap + 1)
    except QueryTimeout:
        return None, None
    return (counted, True) if exact else (cap, False)


async def labels_for(serving: Serving, release: LoadedRelease, reference: Reference) -> Labels:
    """The label (and `url`, `unit`) of every row a foreign key may refer to."""
    spec = table(serving, release, reference.resource)
    found = Labels(reference)
    if spec.row_count > LABEL_MAX_ROWS:
        return found
    label = next((name for name in LABEL_FIELDS if spec.field(name)), None)
    for row in await all_rows(serving, spec):
        key = str(row[reference.field])
        if label and row.get(label) is not None:
            found.names[key] = str(row[label])
        if row.get("url"):
            found.urls[key] = str(row["url"])
        if row.get("unit"):
            found.units[key] = str(row["unit"])
    return found


async def preview(serving: Serving, spec: TableSpec) -> dict[str, Any]:
    """The first rows of a table, in primary-key order."""
    settings = serving.settings
    query = parse_row_query(
        spec,
        [("_size", str(PREVIEW_ROWS)), ("_count", "none")],
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )
    page = await RowReader(serving.engine, spec, budget=request_budget(settings)).page(query)
    return {"columns": page.columns, "rows": page.rows}


def row_key(spec: TableSpec, row: Mapping[str, Any]) -> list[str]:
    """The primary-key values of a row as path text."""
    return [as_text(row[name]) for name in spec.primary_key]


def as_text(value: Any) -> str:
    """A value as it is written in a path or a query string."""
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass(frozen=True)
class Chart:
    """A drawn chart and everything the page shows with it."""

    view: ChartView
    points: list[Point]
    svg: str
    legend: list[dict[str, str]]
    series_labels: dict[str, str]
    headline: list[dict[str, str]]
    svg_url: str
    png_url: str
    embed_url: str
    table_url: str


async def chart(serving: Serving, release: LoadedRelease, view: ChartView) -> Chart:
    """Read a view's rows and draw them: one marker per row, labelled along foreign keys."""

    links: Links = serving.links
    info = release.info
    spec = table(serving, release, view.resource)
    params = parse_qsl(view.filter, keep_blank_values=True)
    rows = await all_rows(serving, spec, params)
    refs = references(release, view.resource)
    labelled = {name: await labels_for(serving, release, ref) for name, ref in refs.items()}
    series_labels = dict(labelled[view.series].names) if view.series in labelled else {}
    points = []
    for row in rows[:CHART_MAX_POINTS]:
        x, y = row.get(view.x), row.get(view.y)
        if not isinstance(x, date) or not isinstance(y, int | float):
            continue
        series = (
            as_text(row[view.series]) if view.series and row.get(view.series) is not None else ""
        )
        qualifier = str(row.get(view.qualifier) or "") if view.qualifier else ""
        sources = [
            labelled[name].names.get(as_text(row[name]), as_text(row[name]))
            for name in labelled
            if name != view.series and row.get(name) is not None
        ]
        amount = " ".join(filter(None, [qualifier.replace("_", " "), f"{y:,}"]))
        name = series_labels.get(series, series)
        label = f"{name}: {amount}" if name else amount
        label += f", as of {x.isoformat()}" + (f"; source: {'; '.join(sources)}" if sources else "")
        href = (
            links.row_page(info.package, info.version, spec.resource, row_key(spec, row))
            if spec.primary_key
            else None
        )
        points.append(Point(x, float(y), series, qualifier, label, href))
    latest: dict[str, Point] = {}
    for p in points:
        if p.series not in latest or (p.x, p.y) > (latest[p.series].x, latest[p.series].y):
            latest[p.series] = p
    headline = [
        {
            "label": series_labels.get(name, name) or view.title,
            "value": f"{p.y:,.0f}",
            "qualifier": p.qualifier.replace("_", " "),
            "date": p.x.isoformat(),
        }
        for name, p in latest.items()
    ]
    base = links.table_page(info.package, info.version, spec.resource)
    return Chart(
        view=view,
        points=points,
        svg=Markup(chart_svg(view, points)),  # noqa: S704
        legend=legend(points, series_labels),
        series_labels=series_labels,
        headline=headline,
        svg_url=links.chart_file(info.package, view.name, "svg"),
        png_url=links.chart_file(info.package, view.name, "png"),
        embed_url=links.embed(info.package, view.name),
        table_url=f"{base}?{view.filter}" if view.filter else base,
    )
