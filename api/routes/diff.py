"""Diffs between two releases of a package: JSON pages of row changes, and CSV of one resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api.config import Settings
from api.db.budget import request_budget
from api.db.diffsource import LoadedDiffs
from api.db.releases import Catalog, LoadedRelease, Snapshot
from api.deps import CatalogDep, EngineDep, LinksDep, SettingsDep, SnapshotDep
from api.diff.release import ReleaseDiff, ResourceDiff
from api.diff.rows import change_record, csv_header, csv_row
from api.errors import BadQuery, NotFound, ParamError, quoted
from api.http.caching import IMMUTABLE, etag_for, not_modified
from api.http.responses import JSONResponse
from api.metadata.urls import API_PREFIX
from api.query.controls import read_controls, read_size
from api.query.operators import Control
from api.render.rows import MEDIA_TYPES, iter_csv

router = APIRouter(prefix=API_PREFIX, tags=["diff"])

VERSION_HELP = "A release version such as 1.0.0, or latest."
# fmt: off
CONTROLS: dict[str, Control] = {control.key: control for control in (
    Control("from", VERSION_HELP),
    Control("to", VERSION_HELP),
    Control("resource", "Only this resource."),
    Control("_size", "Changes per page."),
    Control("_next", "Page cursor."),
)}
# fmt: on
CSV_CONTROLS = {key: CONTROLS[key] for key in ("from", "to", "resource")}
REQUIRED = {
    "from": "the older release, a version such as 1.0.0 or latest",
    "to": "the newer release, a version such as 1.1.0 or latest",
    "resource": "the name of a resource of either release",
}


@dataclass(frozen=True)
class DiffQuery:
    """The query string of a diff."""

    from_version: str
    to_version: str
    resource: str | None
    size: int
    next: str | None


def read_diff_query(
    params: Sequence[tuple[str, str]], *, csv: bool, default_size: int, max_size: int
) -> DiffQuery:
    """Read a diff query string; raise BadQuery listing every problem in it."""
    controls = CSV_CONTROLS if csv else CONTROLS
    given, errors = read_controls(params, controls, kind="a CSV diff" if csv else "a diff")
    for key in ("from", "to", "resource") if csv else ("from", "to"):
        if not given.get(key, [""])[0]:
            message = f"{key} is required: {REQUIRED[key]}."
            errors.append(ParamError(key, "missing-parameter", message))
    size = default_size
    if "_size" in given:
        try:
            size = read_size(given["_size"][0], max_size=max_size)
        except BadQuery as problem:
            errors.extend(problem.errors)
    if errors:
        raise BadQuery(errors)
    return DiffQuery(
        from_version=given["from"][0],
        to_version=given["to"][0],
        resource=given.get("resource", [None])[0],
        size=size,
        next=given.get("_next", [None])[0],
    )


def _documented(controls: Mapping[str, Control]) -> dict[str, Any]:
    """The OpenAPI parameters of a query string read by `read_controls`, for `openapi_extra`."""
    parameters = [
        {
            "name": control.key,
            "in": "query",
            "required": False,
            "description": control.description,
            "schema": {"type": "string"},
        }
        for control in controls.values()
    ]
    return {"parameters": parameters}


async def get_diff_query(request: Request, settings: SettingsDep) -> DiffQuery:
    """The query of a JSON diff."""
    return read_diff_query(
        request.query_params.multi_items(),
        csv=False,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )


async def get_csv_diff_query(request: Request, settings: SettingsDep) -> DiffQuery:
    """The query of a CSV diff: one resource, every change."""
    return read_diff_query(
        request.query_params.multi_items(),
        csv=True,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )


DiffQueryDep = Annotated[DiffQuery, Depends(get_diff_query)]
CsvDiffQueryDep = Annotated[DiffQuery, Depends(get_csv_diff_query)]


@dataclass(frozen=True)
class ResolvedDiff:
    """The two releases a diff names, their diff, and the source to read row changes from."""

    before: LoadedRelease
    after: LoadedRelease
    diff: ReleaseDiff
    source: LoadedDiffs


async def _resolve(
    package: str,
    query: DiffQuery,
    snapshot: Snapshot,
    catalog: Catalog,
    engine: sa.Engine,
    settings: Settings,
) -> ResolvedDiff:
    before = snapshot.release(package, query.from_version)
    after = snapshot.release(package, query.to_version)
    # One budget for every query of the request: the row counts, then the changes shown.
    source = LoadedDiffs(engine, catalog, budget=request_budget(settings))
    diff = await run_in_threadpool(source.diff, before, after)
    if query.resource is not None and diff.resource(query.resource) is None:
        names = ", ".join(r.name for r in diff.resources)
        raise NotFound(
            f"neither {package} {diff.from_version} nor {diff.to_version} has a resource"
            f" {quoted(query.resource)} (resources: {names})"
        )
    return ResolvedDiff(before, after, diff, source)


async def get_resolved_diff(
    package: str,
    query: DiffQueryDep,
    snapshot: SnapshotDep,
    catalog: CatalogDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> ResolvedDiff:
    """The releases and resource a JSON diff names, diffed; NotFound when one is missing."""
    return await _resolve(package, query, snapshot, catalog, engine, settings)


async def get_resolved_csv_diff(
    package: str,
    query: CsvDiffQueryDep,
    snapshot: SnapshotDep,
    catalog: CatalogDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> ResolvedDiff:
    """The releases and resource a CSV diff names, diffed; NotFound when one is missing."""
    return await _resolve(package, query, snapshot, catalog, engine, settings)


ResolvedDiffDep = Annotated[ResolvedDiff, Depends(get_resolved_diff)]
ResolvedCsvDiffDep = Annotated[ResolvedDiff, Depends(get_resolved_csv_diff)]


def _headers(
    request: Request, resolved: ResolvedDiff, query: DiffQuery, max_age: int, variant: str
) -> dict[str, str]:
    before, after = resolved.before, resolved.after
    path, query_string = request.url.path, request.url.query
    etag = etag_for(after, path, query_string, variant=f"diff:{before.content_hash}:{variant}")
    pinned = "latest" not in (query.from_version, query.to_version)
    return {"ETag": etag, "Cache-Control": IMMUTABLE if pinned else f"public, max-age={max_age}"}


@router.get("/{package}/diff", summary="Diff two releases", openapi_extra=_documented(CONTROLS))
async def release_diff(
    request: Request,
    package: str,
    query: DiffQueryDep,
    resolved: ResolvedDiffDep,
    settings: SettingsDep,
    links: LinksDep,
) -> Response:
    """Rows added, removed and changed by primary key, schema changes and the bump they need."""
    headers = _headers(request, resolved, query, settings.latest_max_age, "json")
    cached = not_modified(request, headers["ETag"], headers)
    if cached is not None:
        return cached
    diff, source = resolved.diff, resolved.source
    start = source.position(diff, query.next, query.resource) if query.next is not None else None
    page = await run_in_threadpool(
        partial(source.page, diff, size=query.size, start=start, resource=query.resource)
    )
    keys = {r.name: r.pair.key for r in diff.resources}
    token = page.next.token if page.next is not None else None
    next_url = None
    if token is not None:
        pinned = [("from", diff.from_version), ("to", diff.to_version)]
        if query.resource is not None:
            pinned.append(("resource", query.resource))
        pinned += [("_size", str(query.size)), ("_next", token)]
        next_url = links.at(request.url.path, pinned)
        headers["Link"] = f'<{next_url}>; rel="next"'
    body = {
        **diff.as_dict(resource=query.resource),
        "size": query.size,
        "rows": [change_record(name, change, keys[name]) for name, change in page.changes],
        "next": token,
        "next_url": next_url,
        "links": {
            "from": links.release(package, diff.from_version),
            "to": links.release(package, diff.to_version),
        },
    }
    return JSONResponse(body, headers=headers)


def _not_compared(item: ResourceDiff, diff: ReleaseDiff) -> BadQuery:
    pair = item.pair
    if pair.before is None:
        why = f"it is new in {diff.to_version}"
    elif pair.after is None:
        why = f"it is gone from {diff.to_version}"
    else:
        why = pair.reason or "they cannot be matched by key"
    message = f"the rows of resource '{item.name}' cannot be compared: {why}."
    return BadQuery([ParamError("resource", "not-comparable", message)])


@router.get(
    "/{package}/diff.csv",
    summary="Diff one resource of two releases as CSV",
    openapi_extra=_documented(CSV_CONTROLS),
)
async def release_diff_csv(
    request: Request,
    query: CsvDiffQueryDep,
    resolved: ResolvedCsvDiffDep,
    settings: SettingsDep,
) -> Response:
    """Every row change of one resource: key columns, diff_type, from_ and to_ of each field."""
    diff = resolved.diff
    item = diff.resource(str(query.resource))
    assert item is not None
    if item.counts is None:
        raise _not_compared(item, diff)
    headers = _headers(request, resolved, query, settings.latest_max_age, "csv")
    cached = not_modified(request, headers["ETag"], headers)
    if cached is not None:
        return cached
    pair = item.pair
    changes = await run_in_threadpool(resolved.source.open_stream, diff, item.name)
    rows = (csv_row(change, pair.value_fields) for change in changes)
    body = iter_csv(csv_header(pair.key, pair.value_fields), rows)
    return StreamingResponse(body, media_type=MEDIA_TYPES["csv"], headers=headers)
