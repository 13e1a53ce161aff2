"""Packages, their releases and their descriptors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.db.releases import LoadedRelease
from api.deps import ReleaseDep, SettingsDep, SnapshotDep
from api.metadata import urls
from api.metadata.datapackage import release_descriptor
from api.render.rows import dump_json
from api.routes.caching import conditional

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


def _release_summary(release: LoadedRelease, base_url: str) -> dict[str, Any]:
    info = release.info
    pinned = {"package": info.package, "version": info.version}
    prefix = urls.release_iri(base_url, **pinned)
    return {
        "version": info.version,
        "published": info.published.isoformat() if info.published else None,
        "loaded_at": info.loaded_at.isoformat(),
        "changelog": info.changelog,
        "rows": {r.name: r.row_count for r in info.resources},
        "total_rows": sum(r.row_count for r in info.resources),
        "links": {
            "self": prefix,
            "datapackage": urls.descriptor_url(base_url, **pinned),
            "validation": f"{prefix}/validation.json",
            "zip": urls.zip_url(base_url, **pinned),
            "citation": urls.citation_url(base_url, **pinned, fmt="apa"),
            "resources": {r.name: f"{prefix}/{r.name}" for r in info.resources},
        },
        "diff_from_previous": None,
        "package_url": urls.dataset_iri(base_url, info.package),
    }


@router.get("", summary="List packages")
async def list_datasets(snapshot: SnapshotDep, settings: SettingsDep) -> Response:
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
                "url": urls.dataset_iri(settings.base_url, name),
                "latest_url": urls.release_iri(
                    settings.base_url, package=name, version=latest.version
                ),
            }
        )
    return Response(
        dump_json({"datasets": items, "count": len(items)}), media_type="application/json"
    )


@router.get("/{package}", summary="Show a package and its releases")
async def show_dataset(package: str, snapshot: SnapshotDep, settings: SettingsDep) -> Response:
    """A package summary with every release: date, row counts, changelog line and links."""
    releases = snapshot.releases(package)
    latest = releases[-1].info
    summaries = []
    previous: str | None = None
    for release in releases:
        summary = _release_summary(release, settings.base_url)
        summary.pop("package_url")
        if previous is not None:
            summary["diff_from_previous"] = urls.diff_url(
                settings.base_url,
                package=package,
                from_version=previous,
                to_version=release.info.version,
            )
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
            "self": urls.dataset_iri(settings.base_url, package),
            "latest": urls.release_iri(settings.base_url, package=package, version="latest"),
            "page": urls.landing_page(settings.base_url, package),
        },
    }
    return Response(dump_json(body), media_type="application/json")


@router.get("/{package}/{version}/datapackage.json", summary="Release descriptor")
async def release_datapackage(
    request: Request,
    version: str,
    release: ReleaseDep,
    snapshot: SnapshotDep,
    settings: SettingsDep,
) -> Response:
    """The release's Data Package descriptor, with absolute URLs."""
    headers, cached = conditional(
        request, release=release, requested=version, snapshot=snapshot, settings=settings
    )
    if cached is not None:
        return cached
    body = release_descriptor(release.info, base_url=settings.base_url)
    return Response(dump_json(body), media_type="application/json", headers=headers)
