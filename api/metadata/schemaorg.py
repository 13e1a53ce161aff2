"""schema.org ``Dataset`` and ``DataCatalog`` JSON-LD for the HTML pages (search engines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.metadata.citation import plain_citation
from api.metadata.facts import (
    Agent,
    CatalogInfo,
    PackageFacts,
    catalog_publisher,
    iso_z,
    package_facts,
)
from api.metadata.urls import Links
from api.metadata.vocab import FILE_FORMATS, code, extent, label
from api.model import ReleaseInfo

CONTEXT = "https://schema.org/"


def _agent(agent: Agent) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": "Person" if agent.is_person else "Organization",
        "name": agent.name,
    }
    if agent.given_name:
        node["givenName"] = agent.given_name
    if agent.family_name:
        node["familyName"] = agent.family_name
    if agent.organization:
        node["affiliation"] = {"@type": "Organization", "name": agent.organization}
    if agent.email:
        node["email"] = agent.email
    if agent.url:
        node["url"] = agent.url
    return node


def _place(iri: str) -> dict[str, Any]:
    place: dict[str, Any] = {"@type": "Place", "sameAs": iri}
    name = label(iri)
    if name:
        place["name"] = name
    box = extent(iri)
    if box is not None:
        place["geo"] = {"@type": "GeoShape", "box": box.schema_org_box}
    return place


def _variables(facts: PackageFacts) -> list[dict[str, Any]]:
    variables = []
    for resource in facts.resources:
        for field in resource.fields:
            variable: dict[str, Any] = {"@type": "PropertyValue", "name": str(field["name"])}
            title, text = field.get("title"), field.get("description")
            if title and title != field["name"]:
                variable["alternateName"] = str(title)
            if text:
                variable["description"] = str(text)
            unit = field.get("unit") or field.get("x-unit")
            if unit:
                variable["unitText"] = str(unit)
            variables.append(variable)
    return variables


def _downloads(facts: PackageFacts, *, links: Links) -> list[dict[str, Any]]:
    package, version = facts.package, facts.version
    downloads = []
    for resource in facts.resources:
        download: dict[str, Any] = {
            "@type": "DataDownload",
            "name": f"{resource.title} (CSV, version {version})",
            "encodingFormat": FILE_FORMATS["csv"].media_type,
            "contentUrl": links.rows(package, version, resource.name),
        }
        if resource.description:
            download["description"] = resource.description
        if resource.bytes is not None:
            download["contentSize"] = f"{resource.bytes} B"
        if resource.checksum and resource.checksum[0] == "sha256":
            download["sha256"] = resource.checksum[1]
        downloads.append(download)
    downloads.append(
        {
            "@type": "DataDownload",
            "name": f"{facts.title} (Frictionless data package, ZIP, version {version})",
            "encodingFormat": FILE_FORMATS["zip"].media_type,
            "contentUrl": links.zip(package, version),
        }
    )
    return downloads


def dataset_jsonld(
    releases: Sequence[ReleaseInfo], *, links: Links, catalog: CatalogInfo | None = None
) -> dict[str, Any]:
    """A schema.org ``Dataset`` for a package's page (its latest release)."""
    facts = package_facts(releases)
    info = catalog or CatalogInfo()
    iri = links.package(facts.package)
    node: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Dataset",
        "@id": iri,
        "identifier": iri,
        "name": facts.title,
        "description": facts.description,
        "url": links.page(facts.package),
        "version": facts.version,
        "datePublished": facts.issued.isoformat(),
        "dateModified": iso_z(facts.modified),
        "isAccessibleForFree": True,
    }
    if facts.licence.url:
        node["license"] = facts.licence.url
    if facts.authors:
        node["creator"] = [_agent(agent) for agent in facts.authors]
    if facts.publisher:
        node["publisher"] = _agent(facts.publisher)
    if facts.keywords:
        node["keywords"] = list(facts.keywords)
    languages = [c for c in (code(iri) for iri in facts.languages) if c]
    if languages:
        node["inLanguage"] = languages
    if facts.temporal_start or facts.temporal_end:
        node["temporalCoverage"] = f"{facts.temporal_start or '..'}/{facts.temporal_end or '..'}"
    if facts.spatial:
        node["spatialCoverage"] = [_place(iri) for iri in facts.spatial]
    variables = _variables(facts)
    if variables:
        node["variableMeasured"] = variables
    node["distribution"] = _downloads(facts, links=links)
    node["includedInDataCatalog"] = {
        "@type": "DataCatalog",
        "name": info.title,
        "url": links.home(),
    }
    if facts.sources:
        node["citation"] = [
            {"@type": "CreativeWork", "name": s.title, **({"url": s.url} if s.url else {})}
            for s in facts.sources
        ]
    node["creditText"] = plain_citation(facts.latest, links=links)
    return node


def catalog_jsonld(
    packages: Sequence[Sequence[ReleaseInfo]], *, links: Links, catalog: CatalogInfo | None = None
) -> dict[str, Any]:
    """A schema.org ``DataCatalog`` listing every package, for the home page."""
    info = catalog or CatalogInfo()
    all_facts = [package_facts(releases) for releases in packages if releases]
    publisher = catalog_publisher(info, all_facts, links=links)
    datasets = []
    for facts in all_facts:
        summary: dict[str, Any] = {
            "@type": "Dataset",
            "@id": links.package(facts.package),
            "name": facts.title,
            "description": facts.description,
            "url": links.page(facts.package),
            "version": facts.version,
            "dateModified": iso_z(facts.modified),
        }
        if facts.licence.url:
            summary["license"] = facts.licence.url
        datasets.append(summary)
    return {
        "@context": CONTEXT,
        "@type": "DataCatalog",
        "@id": links.catalog(),
        "name": info.title,
        "description": info.description,
        "url": links.home(),
        "publisher": _agent(publisher),
        "inLanguage": [c for c in (code(iri) for iri in info.languages) if c],
        "dataset": datasets,
    }
