"""A rows request read in full, once: its release, table, format, query and page plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.db.budget import request_budget
from api.db.rows import RowReader
from api.deps import ServingDep
from api.errors import NotAcceptable, quoted
from api.http.release_request import ReleaseRequest, release_request
from api.model import TableSpec
from api.query import Plan, RowQuery, prepare_page
from api.render.rows import MEDIA_TYPES, negotiate

ROW_FORMATS = ("json", "csv", "ndjson", "xlsx")


def split_format(name: str) -> tuple[str, str | None]:
    """Split `figures.csv` into (`figures`, `csv`); no known suffix gives (name, None)."""
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix in ROW_FORMATS:
        return stem, suffix
    return name, None


def negotiated_format(request: Request) -> str:
    """The row format the `Accept` header asks for, or NotAcceptable."""
    accept = request.headers.get("accept")
    fmt = negotiate(accept, ROW_FORMATS)
    if fmt is None:
        offered = ", ".join(MEDIA_TYPES[f].split(";")[0] for f in ROW_FORMATS)
        raise NotAcceptable(f"cannot produce {quoted(accept or '')}; offered: {offered}")
    return fmt


@dataclass(frozen=True)
class RowsRequest:
    """The release request of a rows request, with the table, format, query and plan it names."""

    asked: ReleaseRequest
    spec: TableSpec
    fmt: str
    query: RowQuery
    plan: Plan

    def reader(self) -> RowReader:
        """A reader of the table under a time budget starting now."""
        serving = self.asked.serving
        settings = serving.settings
        return RowReader(
            serving.engine,
            self.spec,
            budget=request_budget(settings),
            count_budget_rows=settings.count_budget_rows,
        )


async def get_rows_request(
    request: Request, package: str, version: str, resource: str, serving: ServingDep
) -> RowsRequest:
    """Resolve a rows path and read its query; NotFound, NotAcceptable or BadQuery on the way."""
    name, fmt = split_format(resource)
    release = serving.snapshot.release(package, version)
    spec = serving.catalog.resource_spec(release, name, snapshot=serving.snapshot)
    fmt = fmt or negotiated_format(request)
    settings = serving.settings
    query, plan = prepare_page(
        spec,
        request.query_params.multi_items(),
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
        fmt=fmt,
        max_facets=settings.max_facets,
    )
    asked = release_request(request, serving, release, version, variant=fmt)
    return RowsRequest(asked, spec, fmt, query, plan)


RowsRequestDep = Annotated[RowsRequest, Depends(get_rows_request)]
