"""Data Package descriptors as served: absolute URLs, one per release and one for the root."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from api.metadata.urls import Links
from api.model import ReleaseInfo


def catalog_resource_name(package: str, resource: str) -> str:
    """The name of a package's resource in the root descriptor (resource names hold no dot)."""
    return f"{package}.{resource}"


def release_descriptor(release: ReleaseInfo, *, links: Links) -> dict[str, Any]:
    """The release's descriptor with every resource path made an absolute URL.

    The unfiltered `.csv` of a resource returns the published file byte for byte, so the
    declared `bytes` and `hash` stay true and `frictionless validate <url>` passes.
    """
    descriptor = copy.deepcopy(dict(release.descriptor))
    served: dict[str, str] = {}
    for resource in descriptor.get("resources", []):
        if "path" in resource:
            url = links.rows(release.package, release.version, resource["name"])
            if isinstance(resource["path"], str):
                served[resource["path"]] = url
            resource["path"] = url
    # A source that is one of the release's own files (the list of reports) points at it too.
    for holder in [descriptor, *descriptor.get("resources", [])]:
        for source in holder.get("sources", []):
            if source.get("path") in served:
                source["path"] = served[source["path"]]
    descriptor.setdefault("id", links.package(release.package))
    return descriptor


def root_descriptor(latest: Sequence[ReleaseInfo], *, links: Links) -> dict[str, Any]:
    """The collection descriptor: every resource of the latest release of each package."""
    resources: list[dict[str, Any]] = []
    licenses: list[dict[str, Any]] = []
    for release in latest:
        descriptor = release_descriptor(release, links=links)
        names = {
            r["name"]: catalog_resource_name(release.package, r["name"])
            for r in descriptor.get("resources", [])
        }
        for resource in descriptor.get("resources", []):
            resource = copy.deepcopy(resource)
            resource["name"] = names[resource["name"]]
            # The root holds several packages: each resource carries its own licences and sources.
            for key in ("licenses", "sources"):
                if key not in resource and descriptor.get(key):
                    resource[key] = descriptor[key]
            for key in resource.get("schema", {}).get("foreignKeys", []):
                reference = key.get("reference", {})
                target = reference.get("resource")
                if target:
                    reference["resource"] = names.get(target, target)
            resources.append(resource)
        for licence in descriptor.get("licenses", []):
            if licence not in licenses:
                licenses.append(licence)
    return {
        "name": "opendata-catalog",
        "title": "Open data catalog: the latest release of every package",
        "description": "Every resource of the latest release of each published package.",
        "licenses": licenses,
        "resources": resources,
    }
