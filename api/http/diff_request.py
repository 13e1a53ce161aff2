"""What a diff request names, read once: its query string, the two releases, their diff and
its caching headers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from api.config import Settings
from api.db.budget import request_budget
from api.db.diffsource import LoadedDiffs
from api.db.limiter import run_blocking
from api.db.releases import Catalog, LoadedRelease, Snapshot
from api.deps import CatalogDep, EngineDep, SettingsDep, SnapshotDep
from api.diff.release import ReleaseDiff
from api.errors import BadQuery, NotFound, ParamError, quoted
from api.http.caching import IMMUTABLE, etag_for
from api.metadata.urls import Links
from api.query.controls import read_controls, read_size
from api.query.operators import Control

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


async def resolve_diff(
    package: str,
    query: DiffQuery,
    snapshot: Snapshot,
    catalog: Catalog,
    engine: sa.Engine,
    settings: Settings,
) -> ResolvedDiff:
    """The two releases a diff names, diffed; NotFound when a release or the resource is missing."""
    before = snapshot.release(package, query.from_version)
    after = snapshot.release(package, query.to_version)
    # One budget for every query of the request: the row counts, then the changes shown.
    source = LoadedDiffs(engine, catalog, budget=request_budget(settings))
    diff = await run_blocking(engine, source.diff, before, after)
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
    return await resolve_diff(package, query, snapshot, catalog, engine, settings)


async def get_resolved_csv_diff(
    package: str,
    query: CsvDiffQueryDep,
    snapshot: SnapshotDep,
    catalog: CatalogDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> ResolvedDiff:
    """The releases and resource a CSV diff names, diffed; NotFound when one is missing."""
    return await resolve_diff(package, query, snapshot, catalog, engine, settings)


ResolvedDiffDep = Annotated[ResolvedDiff, Depends(get_resolved_diff)]
ResolvedCsvDiffDep = Annotated[ResolvedDiff, Depends(get_resolved_csv_diff)]


def diff_headers(
    request: Request,
    resolved: ResolvedDiff,
    query: DiffQuery,
    *,
    links: Links,
    max_age: int,
    variant: str,
) -> dict[str, str]:
    """The ETag and Cache-Control of a diff: immutable when both releases are pinned."""
    before, after = resolved.before, resolved.after
    url = links.at(request.url.path, request.url.query)
    etag = etag_for(after, url, variant=f"diff:{before.content_hash}:{variant}")
    pinned = "latest" not in (query.from_version, query.to_version)
    return {"ETag": etag, "Cache-Control": IMMUTABLE if pinned else f"public, max-age={max_age}"}
