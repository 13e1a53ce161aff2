"""What changed between two releases, as a page: the API's diff with old and new values side by
side (the same query string: `from`, `to`, `resource`, `_size`, `_next`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import Serving, ServingDep
from api.diff.release import ReleaseDiff
from api.diff.rows import ADDED, REMOVED, RowChange
from api.diff.schema import SchemaChange
from api.diff.shapes import show_value
from api.errors import BadQuery, NotFound
from api.http.caching import not_modified
from api.http.diff_request import diff_headers, read_diff_query, resolve_diff
from api.http.page_data import as_text
from api.http.page_response import html, problem_page

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 25  # row changes per page: an added row shows every field, so pages stay short
SHORT_VALUE = 120  # a schema value longer than this is folded behind its first words


def _value(value: Any) -> dict[str, Any]:
    """A row value as a cell: its text, and whether it is missing."""
    if value is None:
        return {"text": "empty", "missing": True, "short": None}
    return {"text": as_text(value), "missing": False, "short": None}


def _schema_value(value: Any) -> dict[str, Any]:
    """A schema or metadata value as a cell, long texts folded (descriptions, views)."""
    if value is None:
        return {"text": "unset", "missing": True, "short": None}
    text = show_value(value)
    short = text[:SHORT_VALUE].rsplit(" ", 1)[0] + " …" if len(text) > SHORT_VALUE else None
    return {"text": text, "missing": False, "short": short}


def _schema_changes(changes: Sequence[SchemaChange], resource: str | None) -> list[dict[str, Any]]:
    return [
        {
            "resource": c.resource,
            "field": c.field,
            "message": c.message,
            "bump": c.bump.label,
            "before": _schema_value(c.before),
            "after": _schema_value(c.after),
        }
        for c in changes
        if resource is None or c.resource == resource
    ]


def _lines(change: RowChange, key: Sequence[str]) -> list[dict[str, Any]]:
    """The fields of one change: every changed field, or every field of a row added or removed."""
    if change.before is not None and change.after is not None:
        names: Sequence[str] = change.changed
    else:
        row = change.after if change.after is not None else change.before
        assert row is not None
        names = [name for name in row if name not in key and row[name] is not None]
    return [
        {
            "field": name,
            "before": _value(change.before.get(name)) if change.before is not None else None,
            "after": _value(change.after.get(name)) if change.after is not None else None,
        }
        for name in names
    ]


def _groups(
    serving: Serving, diff: ReleaseDiff, changes: Sequence[tuple[str, RowChange]]
) -> list[dict[str, Any]]:
    """The changes of a page grouped by resource, each linked to its row page."""
    links = serving.links
    groups: list[dict[str, Any]] = []
    for name, change in changes:
        item = diff.resource(name)
        assert item is not None
        if not groups or groups[-1]["resource"] != name:
            groups.append({"resource": name, "key": list(item.pair.key), "entries": []})
        key = [as_text(value) for value in change.key]
        version = diff.from_version if change.diff_type == REMOVED else diff.to_version
        groups[-1]["entries"].append(
            {
                "key": ", ".join(key),
                "href": links.row_page(diff.package, version, name, key),
                "diff_type": change.diff_type,
                "version": version,
                "lines": _lines(change, item.pair.key),
            }
        )
    return groups


def _resources(serving: Serving, diff: ReleaseDiff) -> list[dict[str, Any]]:
    links = serving.links
    found = []
    for item in diff.resources:
        counts = item.counts
        found.append(
            {
                "name": item.name,
                "status": item.pair.status,
                "reason": item.pair.reason,
                "counts": counts,
                "href": links.diff_page(
                    diff.package, diff.from_version, diff.to_version, resource=item.name
                ),
                "csv": links.diff_csv(diff.package, diff.from_version, diff.to_version, item.name)
                if counts is not None and counts.changes
                else None,
            }
        )
    return found


@router.get("/datasets/{package}/diff", response_class=HTMLResponse)
async def diff_page(request: Request, package: str, serving: ServingDep) -> Response:
    """Rows added, removed and changed between two releases, and their schema changes."""
    links, settings = serving.links, serving.settings
    try:
        query = read_diff_query(
            request.query_params.multi_items(),
            csv=False,
            default_size=PAGE_SIZE,
            max_size=settings.max_page_size,
        )
        resolved = await resolve_diff(
            package, query, serving.snapshot, serving.catalog, serving.engine, settings
        )
        headers = diff_headers(
            request, resolved, query, links=links, max_age=settings.latest_max_age, variant="html"
        )
        cached = not_modified(request, headers["ETag"], headers)
        if cached is not None:
            return cached
        diff, source = resolved.diff, resolved.source
        start = source.position(diff, query.next, query.resource) if query.next else None
    except (NotFound, BadQuery) as error:
        return problem_page(error, links)
    page = await run_in_threadpool(
        partial(source.page, diff, size=query.size, start=start, resource=query.resource)
    )
    here = [("from", diff.from_version), ("to", diff.to_version)]
    if query.resource is not None:
        here.append(("resource", query.resource))
    if query.size != PAGE_SIZE:
        here.append(("_size", str(query.size)))
    next_url = (
        links.at(request.url.path, [*here, ("_next", page.next.token)]) if page.next else None
    )
    info = resolved.after.info
    declared = diff.declared_bump
    return html(
        "diff.html",
        links=links,
        headers=headers,
        title=f"What changed from {diff.from_version} to {diff.to_version} · {info.title}",
        info=info,
        diff=diff,
        resource=query.resource,
        required=diff.required_bump.label,
        declared=declared.label if declared is not None else None,
        reasons=diff.reasons,
        schema_changes=_schema_changes(diff.changes, query.resource),
        resources=_resources(serving, diff),
        groups=_groups(serving, diff, page.changes),
        added=ADDED,
        removed=REMOVED,
        next_url=next_url,
        first_url=links.at(request.url.path, here) if query.next else None,
        whole_url=links.diff_page(package, diff.from_version, diff.to_version),
        api_url=links.diff(package, diff.from_version, diff.to_version, resource=query.resource),
    )
