"""Packages, their releases and their descriptors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.db.releases import LoadedRelease
from api.deps import LinksDep, SnapshotDep
from api.http.answers import NOT_FOUND, RELEASE_ANSWERS, UNAVAILABLE, answers
from api.http.release_request import ReleaseRequestDep
from api.http.responses import JSONResponse
from api.metadata.datapackage import release_descriptor
from api.metadata.urls import API_PREFIX, Links

router = APIRouter(prefix=API_PREFIX, tags=["datasets"])


def _release_summary(release: LoadedRelease, links: Links) -> dict[str, Any]:
    info = release.info
    pinned = (info.package, info.version)
    return {
        "version": info.version,
        "published": info.published.isoformat() if info.published else None,
        "loaded_at": info.loaded_at.isoformat(),
        "changelog": info.changelog,
        "rows": {r.name: r.row_count for r in info.resources},
        "total_rows": sum(r.row_count for r in info.resources),
        "links": {
            "self": links.release(*pinned),
            "datapackage": links.descriptor(*pinned),
            "validation": links.validation(*pinned),
            "zip": links.zip(*pinned),
            "citation": links.citation(*pinned, fmt="apa"),
            "resources": {r.name: links.resource(*pinned, r.name) for r in info.resources},
        },
        "diff_from_previous": None,
        "package_url": links.package(info.package),
    }


@router.get("", summary="List packages", responses=UNAVAILABLE)
async def list_datasets(snapshot: SnapshotDep, links: LinksDep) -> Response:
    """Every published package with its latest version."""
    items = []
    for name, releases in snapshot.packages.items():
        latest = releases[-1].info
        items.append(
            {
                "name": name,
                "title": latest.title,
                "description": latest.descriptor.get("description"),
                "latest_version": latest.version,
                "versions": [r.info.version for r in releases],
                "url": links.package(name),
                "latest_url": links.release(name, latest.version),
            }
        )
    return JSONResponse({"datasets": items, "count": len(items)})


@router.get(
    "/{package}",
    summary="Show a package and its releases",
    responses=answers(NOT_FOUND, UNAVAILABLE),
)
async def show_dataset(package: str, snapshot: SnapshotDep, links: LinksDep) -> Response:
    """A package summary with every release: date, row counts, changelog line and links."""
    releases = snapshot.releases(package)
    latest = releases[-1].info
    summaries = []
    previous: str | None = None
    for release in releases:
        summary = _release_summary(release, links)
        summary.pop("package_url")
        if previous is not None:
            summary["diff_from_previous"] = links.diff(package, previous, release.info.version)
        summaries.append(summary)
        previous = release.info.version
    body = {
        "name": package,
        "title": latest.title,
        "description": latest.descriptor.get("description"),
        "latest_version": latest.version,
        "licenses": latest.descriptor.get("licenses", []),
        "keywords": latest.descriptor.get("keywords", []),
        "releases": list(reversed(summaries)),
        "links": {
            "self": links.package(package),
            "latest": links.release(package, "latest"),
            "page": links.page(package),
        },
    }
    return JSONResponse(body)


@router.get(
    "/{package}/{version}/datapackage.json",
    summary="Release descriptor",
    responses=RELEASE_ANSWERS,
)
async def release_datapackage(
    asked: ReleaseRequestDep,
) -> Response:
    """The release's Data Package descriptor, with absolute URLs."""
    if asked.not_modified is not None:
        return asked.not_modified
    body = release_descriptor(asked.info, links=asked.links)
    return JSONResponse(body, headers=asked.headers)
