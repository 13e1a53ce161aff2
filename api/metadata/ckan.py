"""Bodies of the CKAN read API (``package_list``, ``package_show``), envelopes and errors.

Shapes follow CKAN 2.10: the ``{"help", "success", "result"}`` envelope, package and resource
dicts with CKAN's field names and timestamp format, and CKAN's error dicts. ``package_search``
over these dicts lives in `api.metadata.ckan_search`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from api.errors import ApiError
from api.metadata.facts import PackageFacts, iso_z, package_facts, utc
from api.metadata.urls import Links
from api.metadata.vocab import FILE_FORMATS, label
from api.model import ReleaseInfo

_TAG = re.compile(r"^[\w \-.]{2,100}$")


class CkanError(ApiError):
    """An error reported in CKAN's own shape (`error` is the envelope's ``error`` member)."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "ckan-error"
    title: ClassVar[str] = "CKAN error"

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or error), details={"error": error})
        self.error = error


class CkanValidationError(CkanError):
    """A bad parameter: ``{"__type": "Validation Error", "<param>": ["message"]}``, status 409."""

    code = "ckan-validation-error"
    title = "Validation Error"

    def __init__(self, param: str, message: str) -> None:
        super().__init__({"__type": "Validation Error", param: [message]})


class CkanBadRequest(CkanError):
    """A request CKAN cannot read (a body that is not a JSON object): status 400."""

    status = 400
    code = "ckan-bad-request"
    title = "Bad request"

    def __init__(self, message: str) -> None:
        super().__init__({"__type": "Bad request", "message": message})


class CkanNotFound(CkanError):
    """No such package: ``{"__type": "Not Found Error", "message": "Not found"}``, status 404."""

    status = 404
    code = "ckan-not-found"
    title = "Not Found Error"

    def __init__(self) -> None:
        super().__init__({"__type": "Not Found Error", "message": "Not found"})


def envelope(action: str, result: Any, *, links: Links) -> dict[str, Any]:
    """A successful action response."""
    return {"help": links.ckan_help(action), "success": True, "result": result}


def error_envelope(action: str, error: dict[str, Any], *, links: Links) -> dict[str, Any]:
    """A failed action response (send with the error's status: 404, 409...)."""
    return {"help": links.ckan_help(action), "success": False, "error": error}


def ckan_time(moment: datetime) -> str:
    """CKAN's timestamp format: UTC, microseconds, no zone suffix."""
    return utc(moment).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")


def ckan_name(value: str) -> str:
    """A valid CKAN name: 2 to 100 of lower-case letters, digits, ``-`` and ``_``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")[:100] or "package"
    return name if len(name) >= 2 else f"{name}-"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _organization(facts: PackageFacts, *, links: Links, created: str) -> dict[str, Any] | None:
    if facts.publisher is None:
        return None
    name = ckan_name(facts.publisher.name)
    return {
        "id": _id(links.ckan_object("organization", name)),
        "name": name,
        "title": facts.publisher.name,
        "type": "organization",
        "description": "",
        "image_url": "",
        "created": created,
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }


def _resources(facts: PackageFacts, *, links: Links, package_id: str) -> list[dict[str, Any]]:
    loaded = ckan_time(facts.latest.loaded_at)
    package, version = facts.package, facts.version
    files: list[tuple[str, str, str | None, str, int | None, str]] = [
        (
            links.rows(package, version, r.name),
            r.title,
            r.description,
            "csv",
            r.bytes,
            f"{r.checksum[0]}:{r.checksum[1]}" if r.checksum else "",
        )
        for r in facts.resources
    ]
    files.append(
        (
            links.zip(package, version),
            f"{facts.title}, version {version} (ZIP)",
            "Every resource of the release with its datapackage.json.",
            "zip",
            None,
            "",
        )
    )
    return [
        {
            "id": _id(url),
            "package_id": package_id,
            "name": name,
            "description": text or "",
            "format": FILE_FORMATS[fmt].label,
            "mimetype": FILE_FORMATS[fmt].media_type,
            "mimetype_inner": None,
            "url": url,
            "size": size,
            "hash": digest,
            "position": position,
            "created": loaded,
            "last_modified": loaded,
            "metadata_modified": loaded,
            "state": "active",
            "datastore_active": False,
            "url_type": None,
            "resource_type": None,
            "cache_url": None,
            "cache_last_updated": None,
        }
        for position, (url, name, text, fmt, size, digest) in enumerate(files)
    ]


def _extras(facts: PackageFacts, *, links: Links) -> list[dict[str, str]]:
    iri = links.package(facts.package)
    publisher, contact = facts.publisher, facts.contact
    versions = [
        {
            "version": r.version,
            "published": r.published.isoformat() if r.published else None,
            "datapackage_url": links.descriptor(r.package, r.version),
        }
        for r in facts.releases
    ]
    values: dict[str, str | None] = {
        "uri": iri,
        "identifier": iri,
        "issued": facts.issued.isoformat(),
        "modified": iso_z(facts.modified),
        "datapackage_url": links.descriptor(facts.package, facts.version),
        "versions": json.dumps(versions),
        "version_notes": facts.latest.changelog,
        "theme": json.dumps(list(facts.themes)) if facts.themes else None,
        "language": json.dumps(list(facts.languages)) if facts.languages else None,
        "frequency": facts.frequency,
        "spatial_uri": facts.spatial[0] if facts.spatial else None,
        "spatial_text": ", ".join(label(s) or s for s in facts.spatial) or None,
        "temporal_start": facts.temporal_start,
        "temporal_end": facts.temporal_end,
        "publisher_name": publisher.name if publisher else None,
        "publisher_email": publisher.email if publisher else None,
        "publisher_url": publisher.url if publisher else None,
        "contact_name": contact.name if contact else None,
        "contact_email": contact.email if contact else None,
    }
    return [{"key": key, "value": value} for key, value in sorted(values.items()) if value]


def package_dict(releases: Sequence[ReleaseInfo], *, links: Links) -> dict[str, Any]:
    """The ``package_show`` result for a package (its latest release)."""
    facts = package_facts(releases)
    package_id = _id(links.package(facts.package))
    created = ckan_time(facts.releases[0].loaded_at)
    organization = _organization(facts, links=links, created=created)
    tags = [k for k in facts.keywords if _TAG.match(k)]
    resources = _resources(facts, links=links, package_id=package_id)
    licence = facts.licence
    return {
        "id": package_id,
        "name": ckan_name(facts.package),
        "title": facts.title,
        "notes": facts.description,
        "version": facts.version,
        "url": links.page(facts.package),
        "license_id": licence.ckan_id,
        "license_title": licence.ckan_title,
        "license_url": licence.url,
        "isopen": licence.is_open,
        "author": ", ".join(a.name for a in facts.creators) or None,
        "author_email": next((a.email for a in facts.creators if a.email), None),
        "maintainer": facts.contact.name if facts.contact else None,
        "maintainer_email": facts.contact.email if facts.contact else None,
        "state": "active",
        "type": "dataset",
        "private": False,
        "creator_user_id": None,
        "metadata_created": created,
        "metadata_modified": ckan_time(facts.modified),
        "owner_org": organization["id"] if organization else None,
        "organization": organization,
        "tags": [
            {
                "id": _id(links.ckan_object("tag", tag)),
                "name": tag,
                "display_name": tag,
                "state": "active",
                "vocabulary_id": None,
            }
            for tag in tags
        ],
        "num_tags": len(tags),
        "resources": resources,
        "num_resources": len(resources),
        "extras": _extras(facts, links=links),
        "groups": [],
        "relationships_as_object": [],
        "relationships_as_subject": [],
    }


def package_list(dicts: Sequence[dict[str, Any]]) -> list[str]:
    """The ``package_list`` result: package names, alphabetically."""
    return sorted(d["name"] for d in dicts)


def find_package(dicts: Sequence[dict[str, Any]], id_or_name: str) -> dict[str, Any]:
    """The package whose ``id`` or ``name`` is `id_or_name`, else `CkanNotFound`."""
    for found in dicts:
        if id_or_name in (found["id"], found["name"]):
            return found
    raise CkanNotFound()


__all__ = [
    "CkanError",
    "CkanNotFound",
    "CkanValidationError",
    "ckan_name",
    "ckan_time",
    "envelope",
    "error_envelope",
    "find_package",
    "package_dict",
    "package_list",
]
