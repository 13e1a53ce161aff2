"""DCAT-US 1.1 (Project Open Data) ``data.json`` catalog.

Written to pass the non-federal schema data.gov applies to non-federal catalogs. The federal
schema also requires ``bureauCode`` and ``programCode`` (US OMB codes), which a non-US publisher
does not have, so they are never emitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.metadata.facts import (
    PackageFacts,
    contact_or_publisher,
    iso_z,
    package_facts,
    publisher_or_host,
)
from api.metadata.urls import Links
from api.metadata.vocab import FILE_FORMATS, code, label
from api.model import ReleaseInfo

CONFORMS_TO = "https://project-open-data.cio.gov/v1.1/schema"
CONTEXT = "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld"
DESCRIBED_BY = "https://project-open-data.cio.gov/v1.1/schema/catalog.json"


def _distributions(facts: PackageFacts, *, links: Links) -> list[dict[str, Any]]:
    package, version = facts.package, facts.version
    descriptor = links.descriptor(package, version)
    found: list[dict[str, Any]] = []
    for resource in facts.resources:
        for fmt in ("csv", "json"):
            url = links.rows(package, version, resource.name, fmt)
            file_format = FILE_FORMATS[fmt]
            entry: dict[str, Any] = {
                "@type": "dcat:Distribution",
                "title": f"{resource.title}, version {version} ({file_format.label})",
            }
            if resource.description:
                entry["description"] = resource.description
            # The CSV is the published file; the JSON rows are a paged API (indirect access).
            entry["downloadURL" if fmt == "csv" else "accessURL"] = url
            entry["mediaType"] = file_format.media_type
            entry["format"] = file_format.label
            entry["describedBy"] = descriptor
            entry["describedByType"] = "application/json"
            found.append(entry)
    found.append(
        {
            "@type": "dcat:Distribution",
            "title": f"{facts.title}, version {version} (Frictionless data package, ZIP)",
            "downloadURL": links.zip(package, version),
            "mediaType": FILE_FORMATS["zip"].media_type,
            "format": FILE_FORMATS["zip"].label,
        }
    )
    return found


def dataset_entry(releases: Sequence[ReleaseInfo], *, links: Links) -> dict[str, Any]:
    """One ``dataset[]`` entry: the package's latest release."""
    facts = package_facts(releases)
    publisher = publisher_or_host(facts, links=links)
    contact = contact_or_publisher(facts, links=links)
    contact_point: dict[str, Any] = {"@type": "vcard:Contact", "fn": contact.name}
    if contact.email:
        contact_point["hasEmail"] = f"mailto:{contact.email}"
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "title": facts.title,
        "description": facts.description,
        "modified": iso_z(facts.modified),
        "publisher": {"@type": "org:Organization", "name": publisher.name},
        "contactPoint": contact_point,
        "identifier": links.package(facts.package),
        "accessLevel": "public",
        "issued": facts.issued.isoformat(),
        "landingPage": links.page(facts.package),
        "describedBy": links.descriptor(facts.package, facts.version),
        "describedByType": "application/json",
        "distribution": _distributions(facts, links=links),
    }
    if facts.keywords:
        entry["keyword"] = list(facts.keywords)
    if facts.licence.url:
        entry["license"] = facts.licence.url
    if facts.temporal_start and facts.temporal_end:  # DCAT-US has no open-ended interval
        entry["temporal"] = f"{facts.temporal_start}/{facts.temporal_end}"
    if facts.spatial:
        entry["spatial"] = ", ".join(label(iri) or iri for iri in facts.spatial)
    frequency = code(facts.frequency) if facts.frequency else None
    if frequency:
        entry["accrualPeriodicity"] = frequency
    languages = [c for c in (code(iri) for iri in facts.languages) if c]
    if languages:
        entry["language"] = languages
    themes = [label(iri) or iri for iri in facts.themes]
    if themes:
        entry["theme"] = themes
    references = list(dict.fromkeys(s.url for s in facts.sources if s.url))
    if references:
        entry["references"] = references
    return entry


def build_data_json(packages: Sequence[Sequence[ReleaseInfo]], *, links: Links) -> dict[str, Any]:
    """The whole ``data.json`` catalog (every package, latest release)."""
    return {
        "@context": CONTEXT,
        "@id": links.data_json(),
        "@type": "dcat:Catalog",
        "conformsTo": CONFORMS_TO,
        "describedBy": DESCRIBED_BY,
        "dataset": [dataset_entry(r, links=links) for r in packages if r],
    }
