"""The table view of a resource, driven by the rows API's own query string, and the row page."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.db.budget import request_budget
from api.db.releases import LoadedRelease
from api.db.rows import RowReader
from api.deps import Serving, ServingDep
from api.errors import BadQuery, NotFound, quoted
from api.http import page_data
from api.http.page_response import html, problem_page
from api.http.release_request import release_request
from api.metadata.citation import plain_citation
from api.model import TableSpec
from api.query import OPERATORS, operators_for, parse_key, parse_row_query, prepare_page

router = APIRouter(tags=["pages"], include_in_schema=False)

OP_PREFIX = "op."  # the form's operator choice for a column: `op.metric=in` with `metric=a,b`
JSON_ONLY = frozenset({"_size", "_count", "_facet"})
PAGE_SIZE = 50
DEFAULT_FACETS = 3  # enum columns faceted when the query names no `_facet`
REFERRER_ROWS = 50


def canonical(params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The rows query string a submitted filter form stands for: operator choices folded into the
    parameter names, empty values dropped."""
    ops = {k.removeprefix(OP_PREFIX): v for k, v in params if k.startswith(OP_PREFIX)}
    found = []
    for key, value in params:
        if key.startswith(OP_PREFIX) or value == "":
            continue
        op = ops.get(key, "exact")
        found.append((key if op == "exact" else f"{key}__{op}", value))
    return found


def _link(base: str, params: Sequence[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(list(params))}" if params else base


def _without(params: Sequence[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params if k not in names]


def _column_of(spec: TableSpec, key: str) -> str | None:
    if spec.field(key):
        return key
    column, sep, op = key.rpartition("__")
    return column if sep and op in OPERATORS and spec.field(column) else None


def _form_rows(
    spec: TableSpec, params: Sequence[tuple[str, str]]
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One form row per column (its current operator and value) and the parameters kept hidden."""
    current: dict[str, tuple[str, str]] = {}
    hidden = []
    for key, value in params:
        column = _column_of(spec, key)
        if column is None:
            if key not in ("_next",):
                hidden.append((key, value))
            continue
        op = "exact" if key == column else key.rpartition("__")[2]
        if column in current:
            hidden.append((key, value))
        else:
            current[column] = (op, value)
    rows = []
    for spec_field in spec.fields:
        op, value = current.get(spec_field.name, ("exact", ""))
        rows.append(
            {
                "name": spec_field.name,
                "type": spec_field.type,
                "operators": operators_for(spec_field.type),
                "op": op,
                "value": value,
                "enum": [str(v) for v in spec_field.enum] if spec_field.enum else None,
            }
        )
    return rows, hidden


def _selection_links(
    serving: Serving, spec: TableSpec, params: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The current selection in every format, each link carrying exactly its filters and sort."""
    links = serving.links
    rows = [(k, v) for k, v in params if k != "_next"]
    plain = [(k, v) for k, v in rows if k not in JSON_ONLY]

    def url(fmt: str) -> str:
        return links.rows(spec.package, spec.version, spec.resource, fmt)

    return [
        ("CSV", _link(url("csv"), plain)),
        ("Excel CSV", _link(url("csv"), [*plain, ("_bom", "1"), ("_delimiter", ";")])),
        ("XLSX", _link(url("xlsx"), plain)),
        ("JSON", _link(url("json"), [k for k in rows if k[0] != "_facet"])),
        ("NDJSON", _link(url("ndjson"), plain)),
        ("API URL", _link(links.resource(spec.package, spec.version, spec.resource), rows)),
    ]


async def _references(
    serving: Serving, release: LoadedRelease, resource: str
) -> dict[str, page_data.Labels]:
    refs = page_data.references(release, resource)
    return {name: await page_data.labels_for(serving, release, ref) for name, ref in refs.items()}


def _cell(
    serving: Serving, spec: TableSpec, name: str, value: Any, labels: dict[str, page_data.Labels]
) -> dict[str, Any]:
    """A value as a cell: its text, and along a foreign key the referenced row's label and links."""
    text = "" if value is None else page_data.as_text(value)
    cell: dict[str, Any] = {
        "text": text,
        "numeric": isinstance(value, int | float) and not isinstance(value, bool),
    }
    found = labels.get(name)
    if found is not None and value is not None:
        ref = found.reference
        cell["label"] = found.names.get(text)
        cell["href"] = serving.links.row_page(spec.package, spec.version, ref.resource, [text])
        cell["source"] = found.urls.get(text)
        cell["unit"] = found.units.get(text)
    return cell


def _facet(
    base: str,
    params: Sequence[tuple[str, str]],
    name: str,
    counts: list[dict[str, Any]],
    labels: page_data.Labels | None,
) -> dict[str, Any]:
    """One facet: each value with its count, label and the link that adds it as a filter."""
    entries = []
    kept = _without(params, "_next", name)
    for count in counts:
        value = count["value"]
        if value is None:
            entries.append(
                {
                    "text": "(missing)",
                    "label": None,
                    "count": count["count"],
                    "href": _link(base, [*kept, (f"{name}__isnull", "1")]),
                }
            )
            continue
        text = page_data.as_text(value)
        entries.append(
            {
                "text": text,
                "label": labels.names.get(text) if labels else None,
                "count": count["count"],
                "href": _link(base, [*kept, (name, text)]),
            }
        )
    return {"name": name, "truncated": False, "entries": entries}


@router.get("/datasets/{package}/{version}/{resource}", response_class=HTMLResponse)
async def table_page(
    request: Request, package: str, version: str, resource: str, serving: ServingDep
) -> Response:
    """Rows of a resource as a table: filters, sort, facets, paging, the selection as downloads."""
    links = serving.links
    given = request.query_params.multi_items()
    params = canonical(given)
    if params != given:
        base = links.table_page(package, version, resource)
        return RedirectResponse(_link(base, params), status_code=303)
    try:
        release = serving.snapshot.release(package, version)
        spec = serving.catalog.table_spec(package, version, resource, snapshot=serving.snapshot)
    except NotFound as error:
        return problem_page(error, links)
    asked_release = release_request(request, serving, release, version)
    headers = asked_release.headers
    if asked_release.not_modified is not None:
        return asked_release.not_modified
    settings = serving.settings
    asked = list(params)
    if not any(k == "_facet" for k, _ in asked):
        enums = [f.name for f in spec.fields if f.enum][:DEFAULT_FACETS]
        asked += [("_facet", name) for name in enums]
    if not any(k == "_size" for k, _ in asked):
        asked.append(("_size", str(PAGE_SIZE)))
    if not any(k == "_count" for k, _ in asked):
        asked.append(("_count", "exact"))  # people are shown the exact total when it comes in time
    form, hidden = _form_rows(spec, params)
    context: dict[str, Any] = {
        "title": f"{spec.title or spec.resource} · {release.info.title}",
        "info": release.info,
        "spec": spec,
        "form": form,
        "hidden": hidden,
        "action": links.table_page(package, version, resource),
        "selection": _selection_links(serving, spec, params),
        "errors": [],
    }
    try:
        query, plan = prepare_page(
            spec,
            asked,
            default_size=settings.default_page_size,
            max_size=settings.max_page_size,
            max_facets=settings.max_facets,
        )
        reader = RowReader(serving.engine, spec, budget=request_budget(settings))
        page = await reader.page(dataclasses.replace(query, count="none"), plan)
        total, exact = await page_data.shown_total(
            reader, query, cap=settings.count_budget_rows, seconds=settings.page_count_seconds
        )
    except BadQuery as error:
        context["errors"] = [e.as_dict() for e in error.errors]
        context["detail"] = error.detail()
        return html("table.html", links=links, status=400, **context)
    labels = await _references(serving, release, resource)
    base = links.table_page(package, version, resource)
    sort = [str(k) for k in query.sort]
    columns = []
    for name in page.columns:
        descending = bool(sort) and sort[0] == name
        columns.append(
            {
                "name": name,
                # A column `_expand` adds (`report_id.title`) is not one the rows sort by.
                "href": _link(
                    base,
                    [
                        *_without(params, "_sort", "_next"),
                        ("_sort", f"-{name}" if descending else name),
                    ],
                )
                if spec.field(name) is not None
                else None,
                "sort": "ascending"
                if sort and sort[0] == name
                else "descending"
                if sort and sort[0] == f"-{name}"
                else None,
            }
        )
    rows = []
    for row in page.rows:
        values = dict(zip(page.columns, row, strict=True))
        key = (
            [page_data.as_text(values[k]) for k in spec.primary_key]
            if all(k in values for k in spec.primary_key)
            else None
        )
        rows.append(
            {
                "href": links.row_page(package, release.info.version, resource, key)
                if key and spec.primary_key
                else None,
                "cells": [
                    _cell(serving, spec, name, values[name], labels) for name in page.columns
                ],
            }
        )
    facets = [
        {
            **_facet(base, params, name, counts, labels.get(name)),
            "truncated": name in page.truncated_facets,
        }
        for name, counts in page.facets.items()
    ]
    context.update(
        columns=columns,
        rows=rows,
        facets=facets,
        facets_timed_out=list(page.timed_out_facets),
        total=total,
        total_is_exact=exact,
        count_mode=query.count,
        next_url=_link(base, [*_without(params, "_next"), ("_next", page.next)])
        if page.next
        else None,
        first_url=_link(base, _without(params, "_next")) if query.after is not None else None,
        filters=[
            (
                f.column,
                f.op,
                page_data.as_text(f.value)
                if not isinstance(f.value, tuple)
                else ", ".join(map(page_data.as_text, f.value)),
            )
            for f in query.filters
        ],
    )
    return html("table.html", links=links, headers=headers, **context)


@router.get("/datasets/{package}/{version}/{resource}/{key}", response_class=HTMLResponse)
async def row_page(
    request: Request, package: str, version: str, resource: str, key: str, serving: ServingDep
) -> Response:
    """One row with every field, links along foreign keys both ways, and its release's citation."""
    links = serving.links
    try:
        release = serving.snapshot.release(package, version)
        spec = serving.catalog.table_spec(package, version, resource, snapshot=serving.snapshot)
        values = parse_key(spec, key)
        asked_release = release_request(request, serving, release, version)
        headers = asked_release.headers
        if asked_release.not_modified is not None:
            return asked_release.not_modified
        row = await RowReader(serving.engine, spec, budget=request_budget(serving.settings)).one(
            values
        )
        if row is None:
            raise NotFound(f"{resource} has no row with key {quoted(key)}")
    except NotFound as error:
        return problem_page(error, links)
    labels = await _references(serving, release, resource)
    fields = [(f, _cell(serving, spec, f.name, row[f.name], labels)) for f in spec.fields]
    referring = await _referring(serving, release, spec, row)
    return html(
        "row.html",
        links=links,
        headers=headers,
        title=f"{resource} {key} · {release.info.title}",
        info=release.info,
        spec=spec,
        key=key,
        fields=fields,
        referring=referring,
        table_url=links.table_page(package, version, resource),
        api_url=links.row(package, release.info.version, resource, page_data.row_key(spec, row)),
        citation=plain_citation(release.info, links=links),
    )


async def _referring(
    serving: Serving, release: LoadedRelease, spec: TableSpec, row: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of other resources whose foreign keys point at this row (the first few of each)."""
    links, info = serving.links, release.info
    found = []
    for resource, held, target in page_data.referrers(release, spec.resource):
        if row.get(target) is None:
            continue
        other = page_data.table(serving, release, resource)
        value = page_data.as_text(row[target])
        query = parse_row_query(
            other,
            [(held, value), ("_size", str(REFERRER_ROWS))],
            default_size=REFERRER_ROWS,
            max_size=serving.settings.max_page_size,
        )
        page = await RowReader(serving.engine, other, budget=request_budget(serving.settings)).page(
            query
        )
        items = []
        label_field = next((n for n in page_data.LABEL_FIELDS if n in page.columns), None)
        for values in page.rows:
            record = dict(zip(page.columns, values, strict=True))
            key = page_data.row_key(other, record)
            text = (
                str(record[label_field])
                if label_field and record.get(label_field)
                else ", ".join(key)
            )
            items.append(
                {"text": text, "href": links.row_page(info.package, info.version, resource, key)}
            )
        if items:
            found.append(
                {
                    "resource": resource,
                    "field": held,
                    "total": page.total,
                    "entries": items,
                    "href": _link(
                        links.table_page(info.package, info.version, resource), [(held, value)]
                    ),
                }
            )
    return found
