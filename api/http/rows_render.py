"""One renderer per row format: the format → renderer table the rows route dispatches on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api.db.files import iter_resource_file
from api.db.limiter import run_blocking
from api.db.releases import LoadedRelease
from api.db.rows import RowReader
from api.errors import ExportTooLarge
from api.http.responses import JSONResponse
from api.http.rows_request import RowsRequest
from api.metadata.citation import plain_citation
from api.model import FieldSpec
from api.obs.metrics import ROWS_SERVED, count_batches, count_rows
from api.query import RowQuery
from api.render.page import RowsPage
from api.render.rows import MEDIA_TYPES, RowShape, iter_ndjson, iter_stored_csv, json_shape
from api.render.xlsx import xlsx_bytes

RAW_FILE_PARAMS = frozenset({"_dl"})

Renderer = Callable[[RowsRequest], Awaitable[Response]]


def _filters_as_understood(query: RowQuery) -> list[dict[str, Any]]:
    return [{"column": f.column, "op": f.op, "value": f.value} for f in query.filters]


def _shape(query: RowQuery) -> RowShape:
    """How a row of `query` is written as JSON: each expanded key nested as an object."""
    return json_shape(query.columns, [(step.column, step.columns) for step in query.expand])


async def render_json(rows: RowsRequest) -> Response:
    """One page of rows, with its cursor, total and facets."""
    asked, spec, query = rows.asked, rows.spec, rows.query
    request, links, headers = asked.request, asked.links, asked.headers
    page = await rows.reader().page(query, rows.plan)
    shape = _shape(query)
    next_token = page.next
    next_url = None
    if next_token:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "_next"]
        next_url = links.at(asked.pinned, [*params, ("_next", next_token)])
        headers["Link"] += f', <{next_url}>; rel="next"'
    body: RowsPage = {
        "package": spec.package,
        "version": spec.version,
        "resource": spec.resource,
        "licenses": list(asked.info.descriptor.get("licenses", [])),
        "filters": _filters_as_understood(query),
        "sort": [str(k) for k in query.sort],
        "columns": list(page.columns),
        "total": page.total,
        "total_is_exact": page.total_is_exact,
        "size": query.size,
        "rows": [shape(row) for row in page.rows],
        "next": next_token,
        "next_url": next_url,
    }
    if query.facets:
        body["facets"] = page.facets
        body["facets_truncated"] = list(page.truncated_facets)
        body["facets_timed_out"] = list(page.timed_out_facets)
    if page.total is not None and page.total_is_exact:
        headers["X-Total-Count"] = str(page.total)
    ROWS_SERVED.labels("json").inc(len(page.rows))
    return JSONResponse(body, headers=headers)


def _has_file(release: LoadedRelease, resource: str) -> bool:
    """Whether the resource was published as a file (not as inline `data`)."""
    return any(
        r.get("name") == resource and "path" in r
        for r in release.info.descriptor.get("resources", [])
    )


async def render_csv(rows: RowsRequest) -> Response:
    """Every matching row as CSV; the unfiltered table is the published file byte for byte."""
    asked, query = rows.asked, rows.query
    params = asked.request.query_params.multi_items()
    release, resource = asked.release, rows.spec.resource
    if {k for k, _ in params} <= RAW_FILE_PARAMS and _has_file(release, resource):
        engine = asked.serving.engine
        chunks = await run_in_threadpool(iter_resource_file, engine, release.tables[resource])
        ROWS_SERVED.labels("csv").inc(rows.spec.row_count)
        return StreamingResponse(chunks, media_type=MEDIA_TYPES["csv"], headers=asked.headers)
    stored = await rows.reader().stream_stored(query)
    body = iter_stored_csv(
        stored.columns,
        stored.fields,
        stored.decoders,
        count_batches("csv", stored.batches),
        delimiter=query.delimiter,
        bom=query.bom,
        spreadsheet=query.bom,  # the Excel-ready variant: formula-like text neutralised
    )
    return StreamingResponse(body, media_type=MEDIA_TYPES["csv"], headers=asked.headers)


async def render_ndjson(rows: RowsRequest) -> Response:
    """Every matching row as newline-delimited JSON, its header first."""
    header, stream = await rows.reader().stream(rows.query)
    body = iter_ndjson(header, count_rows("ndjson", stream), shape=_shape(rows.query))
    return StreamingResponse(body, media_type=MEDIA_TYPES["ndjson"], headers=rows.asked.headers)


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


def _about(rows: RowsRequest) -> list[tuple[str, str]]:
    """What a spreadsheet says about itself: what it is, its version, licence, source, citation."""
    asked, links, info = rows.asked, rows.asked.links, rows.asked.info
    licences = ", ".join(label for label, _url in info.licences)
    filters = "; ".join(f"{f.column} {f.op} {f.value}" for f in rows.query.filters) or "none"
    # The pinned URL: `latest` and its version give the same file (and the same ETag).
    source = links.at(asked.pinned, asked.request.url.query)
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


def _output_fields(rows: RowsRequest) -> list[FieldSpec | None]:
    """The field of each output column, an expanded one as its own table declares it."""
    spec, query = rows.spec, rows.query
    own = [spec.field(name) for name in query.columns]
    return own + [step.target.field(name) for step in query.expand for name in step.columns]


async def render_xlsx(rows: RowsRequest) -> Response:
    """Every matching row as an Excel workbook, or a 413 when there are too many."""
    asked, spec, query = rows.asked, rows.spec, rows.query
    csv_url = asked.links.rows(spec.package, spec.version, spec.resource, "csv")
    if asked.request.url.query:
        csv_url = f"{csv_url}?{asked.request.url.query}"
    reader = rows.reader()
    await _refuse_large_workbook(reader, query, asked.settings.xlsx_max_rows, csv_url=csv_url)
    about = _about(rows)
    header, stream = await reader.stream(query)
    counted = count_rows("xlsx", stream)
    fields = _output_fields(rows)
    build = partial(xlsx_bytes, header, counted, sheet=spec.resource, about=about, fields=fields)
    body = await run_blocking(reader.engine, build)
    return Response(body, media_type=MEDIA_TYPES["xlsx"], headers=asked.headers)


RENDERERS: dict[str, Renderer] = {
    "json": render_json,
    "csv": render_csv,
    "ndjson": render_ndjson,
    "xlsx": render_xlsx,
}
