"""Whole releases: the stored validation report and the Frictionless zip."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from api.db.files import iter_resource_file, read_validation_report
from api.deps import EngineDep, LinksDep, ReleaseDep, SettingsDep, SnapshotDep
from api.metadata.citation import citation_format, render_citation
from api.metadata.urls import API_PREFIX
from api.render.archive import iter_release_zip, readme_text
from api.render.rows import dump_json
from api.routes.caching import conditional

router = APIRouter(prefix=API_PREFIX, tags=["releases"])


@router.get("/{package}/{version}/validation.json", summary="Stored validation report")
async def validation_report(
    request: Request,
    version: str,
    release: ReleaseDep,
    snapshot: SnapshotDep,
    settings: SettingsDep,
    links: LinksDep,
    engine: EngineDep,
) -> Response:
    """The frictionless report stored when the release was loaded, as it was."""
    headers, cached = conditional(
        request,
        release=release,
        requested=version,
        snapshot=snapshot,
        settings=settings,
        links=links,
    )
    if cached is not None:
        return cached
    report = await run_in_threadpool(read_validation_report, engine, release.id)
    return Response(dump_json(report), media_type="application/json", headers=headers)


@router.get("/{package}/{version}.zip", summary="Release as a Frictionless zip")
async def release_zip(
    request: Request,
    version: str,
    release: ReleaseDep,
    snapshot: SnapshotDep,
    settings: SettingsDep,
    links: LinksDep,
    engine: EngineDep,
) -> Response:
    """The release as a zip: descriptor (relative paths), CSV files and a README."""
    headers, cached = conditional(
        request,
        release=release,
        requested=version,
        snapshot=snapshot,
        settings=settings,
        links=links,
    )
    if cached is not None:
        return cached
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


@router.get("/{package}/{version}/citation", summary="Cite a release")
async def release_citation(
    request: Request,
    version: str,
    release: ReleaseDep,
    snapshot: SnapshotDep,
    settings: SettingsDep,
    links: LinksDep,
    format: str = "apa",
) -> Response:
    """A citation of the pinned release: apa, bibtex, ris, csl-json or cff."""
    chosen = citation_format(format)
    headers, cached = conditional(
        request,
        release=release,
        requested=version,
        snapshot=snapshot,
        settings=settings,
        links=links,
    )
    if cached is not None:
        return cached
    text = render_citation(release.info, chosen.name, links=links)
    return Response(text, media_type=chosen.media_type, headers=headers)
