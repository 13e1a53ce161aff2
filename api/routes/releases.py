"""Whole releases: the stored validation report and the Frictionless zip."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api.db.files import iter_resource_file, read_validation_report
from api.http.answers import BAD_QUERY, RELEASE_ANSWERS, answers, bodies
from api.http.release_request import ReleaseRequestDep
from api.http.responses import JSONResponse
from api.metadata.citation import FORMATS, citation_format, render_citation
from api.metadata.urls import API_PREFIX
from api.render.archive import iter_release_zip, readme_text

router = APIRouter(prefix=API_PREFIX, tags=["releases"])


@router.get(
    "/{package}/{version}/validation.json",
    summary="Stored validation report",
    responses=RELEASE_ANSWERS,
)
async def validation_report(asked: ReleaseRequestDep) -> Response:
    """The frictionless report stored when the release was loaded, as it was."""
    if asked.not_modified is not None:
        return asked.not_modified
    engine = asked.serving.engine
    report = await run_in_threadpool(read_validation_report, engine, asked.release.id)
    return JSONResponse(report, headers=asked.headers)


@router.get(
    "/{package}/{version}.zip",
    summary="Release as a Frictionless zip",
    response_class=Response,
    responses=answers(
        bodies("The release as a zip.", ["application/zip"], binary=True), RELEASE_ANSWERS
    ),
)
async def release_zip(asked: ReleaseRequestDep) -> Response:
    """The release as a zip: descriptor (relative paths), CSV files and a README."""
    if asked.not_modified is not None:
        return asked.not_modified
    release, links, headers = asked.release, asked.links, asked.headers
    engine = asked.serving.engine
    info = release.info
    pinned = links.release(info.package, info.version)
    citation = render_citation(info, "apa", links=links)
    files: list[tuple[str, Callable[[], Iterable[bytes]]]] = []
    for resource in info.descriptor.get("resources", []):
        resource_id = release.tables.get(resource["name"])
        if resource_id is None or "path" not in resource:
            continue
        if not files:
            # The first file is opened before the status line: a lost database is a 503.
            opened = await run_in_threadpool(iter_resource_file, engine, resource_id)
            files.append((str(resource["path"]), partial(iter, opened)))
            continue
        files.append((str(resource["path"]), partial(iter_resource_file, engine, resource_id)))
    body = iter_release_zip(
        info, files=files, readme=readme_text(info, citation=citation, url=pinned)
    )
    filename = f"{info.package}-{info.version}.zip"
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(body, media_type="application/zip", headers=headers)


@router.get(
    "/{package}/{version}/citation",
    summary="Cite a release",
    response_class=Response,
    responses=answers(
        bodies("The citation in the chosen format.", [f.media_type for f in FORMATS.values()]),
        BAD_QUERY,
        RELEASE_ANSWERS,
    ),
)
async def release_citation(
    asked: ReleaseRequestDep,
    format: Annotated[str, Query(json_schema_extra={"enum": list(FORMATS)})] = "apa",
) -> Response:
    """A citation of the pinned release: apa, bibtex, ris, csl-json or cff."""
    chosen = citation_format(format)
    if asked.not_modified is not None:
        return asked.not_modified
    text = render_citation(asked.info, chosen.name, links=asked.links)
    return Response(text, media_type=chosen.media_type, headers=asked.headers)
