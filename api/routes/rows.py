"""Rows of a resource: JSON pages, CSV and NDJSON streams, one row by primary key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.db.budget import request_budget
from api.db.rows import RowReader
from api.deps import ServingDep
from api.errors import BadQuery, NotFound, ParamError, plain, quoted
from api.http.release_request import release_request
from api.http.responses import JSONResponse
from api.http.rows_render import RENDERERS
from api.http.rows_request import RowsRequestDep
from api.metadata.urls import API_PREFIX
from api.query import parse_key
from api.query.selection import download_filename

router = APIRouter(prefix=API_PREFIX, tags=["rows"])
SAVED_FORMATS = frozenset({"xlsx"})
"""Formats always saved as a named file (as is the Excel-ready CSV, `_bom=1`): never shown."""


@router.get("/{package}/{version}/{resource}", include_in_schema=False)
async def read_rows(rows: RowsRequestDep) -> Response:
    """Rows of a resource, filtered, sorted and paged; format by suffix or Accept."""
    asked, spec = rows.asked, rows.spec
    if asked.not_modified is not None:
        return asked.not_modified
    if rows.query.download or rows.fmt in SAVED_FORMATS or rows.query.bom:
        filename = download_filename(spec, rows.query, rows.fmt)
        asked.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return await RENDERERS[rows.fmt](rows)


def _refuse_parameters(request: Request) -> None:
    if request.query_params:
        raise BadQuery(
            [
                ParamError(
                    name, "unknown-parameter", f"{plain(name)} is not a parameter of one row."
                )
                for name in dict.fromkeys(request.query_params.keys())
            ]
        )


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
    _refuse_parameters(request)
    release = serving.snapshot.release(package, version)
    spec = serving.catalog.resource_spec(release, resource, snapshot=serving.snapshot)
    values = parse_key(spec, key)
    asked = release_request(request, serving, release, version)
    if asked.not_modified is not None:
        return asked.not_modified
    reader = RowReader(serving.engine, spec, budget=request_budget(serving.settings))
    row = await reader.one(values)
    if row is None:
        raise NotFound(f"{resource} has no row with key {quoted(key)}")
    body = {
        "package": spec.package,
        "version": release.info.version,
        "resource": resource,
        "row": row,
    }
    return JSONResponse(body, headers=asked.headers)
