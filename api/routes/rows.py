"""Rows of a resource: JSON pages, CSV and NDJSON streams, one row by primary key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api.db.budget import request_budget
from api.db.files import iter_resource_file
from api.db.releases import LoadedRelease
from api.db.rows import RowReader
from api.deps import ServingDep
from api.errors import BadQuery, ExportTooLarge, NotAcceptable, NotFound, ParamError, plain, quoted
from api.metadata.citation import plain_citation
from api.metadata.urls import API_PREFIX, Links
from api.model import ReleaseInfo
from api.query import Plan, RowQuery, parse_key, prepare_page
from api.render.rows import MEDIA_TYPES, dump_json, iter_ndjson, iter_stored_csv, negotiate
from api.render.xlsx import xlsx_bytes
from api.routes.caching import conditional, pinned_path

router = APIRouter(prefix=API_PREFIX, tags=["rows"])

ROW_FORMATS = ("json", "csv", "ndjson", "xlsx")
RAW_FILE_PARAMS = frozenset({"_dl"})


def split_format(name: str) -> tuple[str, str | None]:
    """Split `figures.csv` into (`figures`, `csv`); no known suffix gives (name, None)."""
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix in ROW_FORMATS:
        return stem, suffix
    return name, None


def _filters_as_understood(query: RowQuery) -> list[dict[str, Any]]:
    return [{"column": f.column, "op": f.op, "value": f.value} for f in query.filters]


def _next_url(request: Request, links: Links, pinned: str, token: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_next"]
    return links.at(pinned, [*params, ("_next", token)])


@router.get("/{package}/{version}/{resource}", include_in_schema=False)
async def read_rows(
    request: Request,
    package: str,
    version: str,
    resource: str,
    serving: ServingDep,
) -> Response:
    """Rows of a resource, filtered, sorted and paged; format by suffix or Accept."""
    settings, engine, snapshot = serving.settings, serving.engine, serving.snapshot
    name, fmt = split_format(resource)
    release = snapshot.release(package, version)
    spec = serving.catalog.table_spec(package, version, name, snapshot=snapshot)
    if fmt is None:
        fmt = negotiate(request.headers.get("accept"), ROW_FORMATS)
        if fmt is None:
            offered = ", ".join(MEDIA_TYPES[f].split(";")[0] for f in ROW_FORMATS)
            raise NotAcceptable(
                f"cannot produce {quoted(request.headers.get('accept', ''))}; offered: {offered}"
            )
    params = request.query_params.multi_items()
    query, plan = prepare_page(
        spec,
        params,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
        fmt=fmt,
        max_facets=settings.max_facets,
    )
    headers, cached = conditional(
        request,
        release=release,
        requested=version,
        snapshot=snapshot,
        settings=settings,
        links=serving.links,
        variant=fmt,
    )
    if cached is not None:
        return cached
    if query.download:
        filename = f"{spec.package}-{spec.version}-{spec.resource}.{fmt}"
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    reader = RowReader(
        engine,
        spec,
        budget=request_budget(settings),
        count_budget_rows=settings.count_budget_rows,
    )
    if fmt == "json":
        licences = list(release.info.descriptor.get("licenses", []))
        return await _json_page(
            request,
            reader,
            query,
            plan,
            headers,
            licences=licences,
            requested=version,
            links=serving.links,
        )
    if fmt == "csv" and {k for k, _ in params} <= RAW_FILE_PARAMS and _has_file(release, name):
        resource_id = release.tables[name]
        chunks = await run_in_threadpool(iter_resource_file, engine, resource_id)
        return StreamingResponse(chunks, media_type=MEDIA_TYPES["csv"], headers=headers)
    if fmt == "xlsx":
        csv_url = serving.links.rows(spec.package, spec.version, spec.resource, "csv")
        if request.url.query:
            csv_url = f"{csv_url}?{request.url.query}"
        await _refuse_large_workbook(reader, query, settings.xlsx_max_rows, csv_url=csv_url)
        about = _about(request, release.info, serving.links, query, requested=version)
        body_bytes = await _workbook(reader, query, about=about)
        return Response(body_bytes, media_type=MEDIA_TYPES["xlsx"], headers=headers)
    if fmt == "csv":
        stored = await reader.stream_stored(query)
        body = iter_stored_csv(
            stored.columns,
            stored.fields,
            stored.decoders,
            stored.batches,
            delimiter=query.delimiter,
            bom=query.bom,
            spreadsheet=query.bom,  # the Excel-ready variant: formula-like text neutralised
        )
    else:
        header, rows = await reader.stream(query)
        body = iter_ndjson(header, rows)
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _has_file(release: LoadedRelease, resource: str) -> bool:
    """Whether the resource was published as a file (not as inline `data`)."""
    return any(
        r.get("name") == resource and "path" in r
        for r in release.info.descriptor.get("resources", [])
    )


async def _refuse_large_workbook(
    reader: RowReader, query: RowQuery, max_rows: int, *, csv_url: str
) -> None:
    """A 413 before any work when more rows match than a workbook may hold (a bounded count)."""
    counted, exact = await reader.count_at_most(query, max_rows + 1)
    if counted <= max_rows:
        return
    matched = f"{counted:,} rows match" if exact else f"more than {max_rows:,} rows match"
    raise ExportTooLarge(
        f"{matched}; an Excel download holds at most {max_rows:,} rows."
        " Filter further, or download the same rows as CSV from csv_url.",
        details={"max_rows": max_rows, "csv_url": csv_url},
    )


async def _workbook(reader: RowReader, query: RowQuery, *, about: list[tuple[str, str]]) -> bytes:
    """Every matching row as an Excel workbook."""
    header, rows = await reader.stream(query)
    return await run_in_threadpool(
        xlsx_bytes, header, rows, sheet=reader.spec.resource, about=about
    )


def _about(
    request: Request, info: ReleaseInfo, links: Links, query: RowQuery, *, requested: str
) -> list[tuple[str, str]]:
    """What a spreadsheet says about itself: what it is, its version, licence, source, citation."""
    licences = ", ".join(label for label, _url in info.licences)
    filters = "; ".join(f"{f.column} {f.op} {f.value}" for f in query.filters) or "none"
    # The pinned URL: `latest` and its version give the same file (and the same ETag).
    source = links.at(pinned_path(request, requested, info.version), request.url.query)
    return [
        ("dataset", info.title),
        ("package", info.package),
        ("version", info.version),
        ("licence", licences),
        ("source", source),
        ("descriptor", links.descriptor(info.package, info.version)),
        ("filters", filters),
        ("citation", plain_citation(info, links=links)),
    ]


async def _json_page(
    request: Request,
    reader: RowReader,
    query: RowQuery,
    plan: Plan,
    headers: dict[str, str],
    *,
    licences: list[dict[str, Any]],
    requested: str,
    links: Links,
) -> Response:
    spec = reader.spec
    page = await reader.page(query, plan)
    next_token = page.next
    pinned = pinned_path(request, requested, spec.version)
    next_url = _next_url(request, links, pinned, next_token) if next_token else None
    if next_url:
        headers["Link"] += f', <{next_url}>; rel="next"'
    body: dict[str, Any] = {
        "package": spec.package,
        "version": spec.version,
        "resource": spec.resource,
        "licenses": licences,
        "filters": _filters_as_understood(query),
        "sort": [str(k) for k in query.sort],
        "columns": list(page.columns),
        "total": page.total,
        "total_is_exact": page.total_is_exact,
        "size": query.size,
        "rows": [dict(zip(page.columns, row, strict=True)) for row in page.rows],
        "next": next_token,
        "next_url": next_url,
    }
    if query.facets:
        body["facets"] = page.facets
        body["facets_truncated"] = list(page.truncated_facets)
    if page.total is not None and page.total_is_exact:
        headers["X-Total-Count"] = str(page.total)
    return Response(dump_json(body), media_type="application/json", headers=headers)


@router.get("/{package}/{version}/{resource}/{key}", include_in_schema=False)
async def read_row(
    request: Request,
    package: str,
    version: str,
    resource: str,
    key: str,
    serving: ServingDep,
) -> Response:
    """One row by primary key (composite keys comma-joined); it takes no query parameters."""
    if request.query_params:
        raise BadQuery(
            [
                ParamError(
                    name, "unknown-parameter", f"{plain(name)} is not a parameter of one row."
                )
                for name in dict.fromkeys(request.query_params.keys())
            ]
        )
    settings, engine, snapshot = serving.settings, serving.engine, serving.snapshot
    release = snapshot.release(package, version)
    spec = serving.catalog.table_spec(package, version, resource, snapshot=snapshot)
    values = parse_key(spec, key)
    headers, cached = conditional(
        request,
        release=release,
        requested=version,
        snapshot=snapshot,
        settings=settings,
        links=serving.links,
    )
    if cached is not None:
        return cached
    row = await RowReader(engine, spec, budget=request_budget(settings)).one(values)
    if row is None:
        raise NotFound(f"{resource} has no row with key {quoted(key)}")
    body = {
        "package": spec.package,
        "version": release.info.version,
        "resource": resource,
        "row": row,
    }
    return Response(dump_json(body), media_type="application/json", headers=headers)
