"""Metadata for harvesters: the root descriptor, DCAT-AP 3 and DCAT-US data.json."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import RedirectResponse, Response

from api.deps import LinksDep, SnapshotDep
from api.errors import BadQuery, ParamError
from api.http.answers import BAD_QUERY, UNAVAILABLE, answers, bodies
from api.metadata.datajson import build_data_json
from api.metadata.datapackage import root_descriptor
from api.metadata.dcat import MEDIA_TYPES, build_catalog_graph, serialize_catalog
from api.metadata.dcat_paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from api.metadata.urls import PATHS, package_route
from api.render.rows import dump_json
from api.timestamps import parse_timestamp

router = APIRouter(tags=["metadata"])
# What `datetime.fromisoformat` reads: a date, or a date-time with an optional offset or `Z`.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-][01][0-9]:[0-5][0-9])?)?$"
)


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        message = f"modified_since must be an ISO 8601 date or date-time; got {text!r}"
        raise BadQuery([ParamError("modified_since", "invalid-value", message)]) from exc


@router.get("/datapackage.json", summary="Root collection descriptor", responses=UNAVAILABLE)
async def root_datapackage(snapshot: SnapshotDep, links: LinksDep) -> Response:
    """Every resource of the latest release of each package, with absolute URLs."""

    def build() -> bytes:
        latest = [releases[-1].info for releases in snapshot.packages.values()]
        return dump_json(root_descriptor(latest, links=links))

    body = snapshot.derived(("datapackage.json", links), build)
    return Response(body, media_type="application/json")


@router.get("/catalog", include_in_schema=False)
async def catalog_iri() -> RedirectResponse:
    """The format-neutral catalog IRI resolves to its JSON-LD."""
    return RedirectResponse(PATHS.catalog_page("jsonld"), status_code=303)


@router.get(
    "/catalog.{ext}",
    summary="DCAT-AP 3 catalog",
    response_class=Response,
    responses=answers(
        bodies("The catalog page in the format of `ext`.", MEDIA_TYPES.values()),
        BAD_QUERY,
        UNAVAILABLE,
    ),
)
async def dcat_catalog(
    ext: Annotated[
        str, Path(description="jsonld, ttl or rdf", json_schema_extra={"enum": list(MEDIA_TYPES)})
    ],
    snapshot: SnapshotDep,
    links: LinksDep,
    page: int = Query(1, ge=1, description="Page number, from 1."),
    page_size: int = Query(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Datasets per page."
    ),
    modified_since: str | None = Query(
        None,
        description="Only packages whose latest release was loaded at or after this time.",
        json_schema_extra={"pattern": TIMESTAMP_PATTERN},
    ),
) -> Response:
    """The DCAT-AP 3 catalog as JSON-LD (`.jsonld`), Turtle (`.ttl`) or RDF/XML (`.rdf`)."""
    if ext not in MEDIA_TYPES:
        raise BadQuery(
            [ParamError("ext", "unknown-format", f"use one of: {', '.join(MEDIA_TYPES)}")]
        )
    since = _parse_since(modified_since)

    def build() -> bytes:
        packages = [[r.info for r in releases] for releases in snapshot.packages.values()]
        graph = build_catalog_graph(
            packages,
            links=links,
            page=page,
            page_size=page_size,
            modified_since=since,
            ext=ext,
        )
        return serialize_catalog(graph, ext)

    key = ("catalog", ext, page, page_size, since, links)
    return Response(snapshot.derived(key, build), media_type=MEDIA_TYPES[ext])


@router.get("/data.json", summary="DCAT-US 1.1 catalog", responses=UNAVAILABLE)
async def data_json(snapshot: SnapshotDep, links: LinksDep) -> Response:
    """The Project Open Data (DCAT-US 1.1) catalog, as data.gov harvests it."""

    def build() -> bytes:
        packages = [[r.info for r in releases] for releases in snapshot.packages.values()]
        return dump_json(build_data_json(packages, links=links))

    body = snapshot.derived(("data.json", links), build)
    return Response(body, media_type="application/json")


@router.get(package_route("{package}", "{version}"), include_in_schema=False)
async def release_iri(package: str, version: str, snapshot: SnapshotDep) -> RedirectResponse:
    """A release IRI resolves to its descriptor."""
    snapshot.release(package, version)
    return RedirectResponse(PATHS.descriptor(package, version), status_code=303)
