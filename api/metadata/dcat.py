"""DCAT-AP 3.0.1 catalog of the packages, built with rdflib, paged with Hydra (`dcat_paging`).

One ``dcat:Dataset`` per package under its stable, version-less IRI, describing the latest
release. Earlier releases are linked with ``dcat:previousVersion`` under their pinned release
IRIs but are *not* typed ``dcat:Dataset`` and not listed with ``dcat:dataset``, so harvesters
that import every ``dcat:Dataset`` node do not create one dataset per release (for the same
reason ``dcat:hasVersion``, whose DCAT-AP range is ``dcat:Dataset``, is not used).

The served graph includes `vocabulary_graph` triples that type the controlled IRIs it points at
(themes, languages, places, file types, licences): DCAT-AP's range shapes are closed-world, and
these triples restate what EU Vocabularies and IANA publish, so the document validates alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, URIRef

from api.errors import NotAcceptable
from api.metadata.dcat_paging import (
    DEFAULT_PAGE_SIZE,
    CatalogPage,
    add_paging,
    check_paging,
    select_page,
)
from api.metadata.facts import (
    Agent,
    CatalogInfo,
    PackageFacts,
    ResourceFacts,
    catalog_publisher,
    package_facts,
    utc,
)
from api.metadata.rdf_nodes import stable_node
from api.metadata.urls import Links
from api.metadata.vocab import (
    ADMS,
    DCAT,
    DCATAP,
    DCT,
    DCT_FORMAT,
    DCT_TITLE,
    EU,
    FILE_FORMATS,
    FOAF,
    HYDRA,
    OWL,
    SKOS,
    SPDX,
    STABLE,
    VCARD,
)
from api.metadata.vocab import vocabulary_graph as vocabulary_graph  # re-exported
from api.model import ReleaseInfo
from api.timestamps import parse_timestamp

MEDIA_TYPES = {"jsonld": "application/ld+json", "ttl": "text/turtle", "rdf": "application/rdf+xml"}
RDF_FORMATS: dict[str, str] = {"jsonld": "json-ld", "ttl": "turtle", "rdf": "xml"}

# Inline JSON-LD context: prefixes only, so no client has to fetch a remote context.
CONTEXT: dict[str, str] = {
    "adms": str(ADMS),
    "dcat": str(DCAT),
    "dcatap": str(DCATAP),
    "dct": str(DCT),
    "foaf": str(FOAF),
    "hydra": str(HYDRA),
    "owl": str(OWL),
    "rdfs": str(RDFS),
    "skos": str(SKOS),
    "spdx": str(SPDX),
    "vcard": str(VCARD),
    "xsd": str(XSD),
}

_DATE_TYPES = (
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), XSD.date),
    (re.compile(r"^\d{4}-\d{2}$"), XSD.gYearMonth),
    (re.compile(r"^\d{4}$"), XSD.gYear),
)


def _date_literal(value: str) -> Literal | None:
    for pattern, datatype in _DATE_TYPES:
        if pattern.match(value):
            return Literal(value, datatype=datatype)
    try:
        return Literal(utc(parse_timestamp(value)))
    except ValueError:
        return None


def _add_agent(graph: Graph, agent: Agent, key: str) -> BNode:
    node = stable_node("agent", key, agent.name)
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, RDF.type, FOAF.Person if agent.is_person else FOAF.Organization))
    graph.add((node, FOAF.name, Literal(agent.name)))
    if agent.email:
        graph.add((node, FOAF.mbox, URIRef(f"mailto:{agent.email}")))
    if agent.url:
        graph.add((node, FOAF.homepage, URIRef(agent.url)))
    return node


def _add_contact(graph: Graph, agent: Agent, key: str) -> BNode:
    node = stable_node("contact", key, agent.name)
    graph.add((node, RDF.type, VCARD.Kind))
    graph.add((node, VCARD.fn, Literal(agent.name)))
    if agent.email:
        graph.add((node, VCARD.hasEmail, URIRef(f"mailto:{agent.email}")))
    if agent.url:
        graph.add((node, VCARD.hasURL, URIRef(agent.url)))
    return node


def _add_distribution(
    graph: Graph, facts: PackageFacts, resource: ResourceFacts | None, fmt: str, *, links: Links
) -> URIRef:
    """One distribution of the latest release: a resource as CSV or JSON, or the whole zip."""
    package, version = facts.package, facts.version
    release = links.release(package, version)
    file_format = FILE_FORMATS[fmt]
    if resource is None:
        node = URIRef(f"{release}#zip")
        url = links.zip(package, version)
        title = f"{facts.title}, version {version} (Frictionless data package, ZIP)"
        description = "Every resource of the release with its datapackage.json, as one ZIP file."
    else:
        node = URIRef(f"{release}#{resource.name}-{fmt}")
        url = links.rows(package, version, resource.name, fmt)
        title = f"{resource.title}, version {version} ({file_format.label})"
        description = resource.description or f"Resource {resource.name} of {facts.title}."
        if fmt == "json":
            description += " Paged JSON rows: follow next_url for the following pages."
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCT_TITLE, Literal(title)))
    graph.add((node, DCT.description, Literal(description)))
    graph.add((node, DCAT.accessURL, URIRef(url)))
    if fmt != "json":  # the JSON rows are an API with pages, not one downloadable file
        graph.add((node, DCAT.downloadURL, URIRef(url)))
    graph.add((node, DCT_FORMAT, URIRef(file_format.file_type_iri)))
    graph.add((node, DCAT.mediaType, URIRef(file_format.media_type_iri)))
    graph.add((node, DCATAP.availability, URIRef(STABLE)))  # pinned URLs never change
    licence = facts.licence.eu_iri or facts.licence.url
    if licence:
        graph.add((node, DCT.license, URIRef(licence)))
    graph.add((node, DCT.issued, Literal(facts.released)))
    graph.add((node, DCT.modified, Literal(facts.modified)))
    if resource is not None and fmt == "csv":
        if resource.bytes is not None:
            size = Literal(resource.bytes, datatype=XSD.nonNegativeInteger)
            graph.add((node, DCAT.byteSize, size))
        if resource.checksum is not None:
            algorithm, digest = resource.checksum
            checksum = stable_node("checksum", str(node))
            graph.add((node, SPDX.checksum, checksum))
            graph.add((checksum, RDF.type, SPDX.Checksum))
            graph.add((checksum, SPDX.algorithm, SPDX[f"checksumAlgorithm_{algorithm}"]))
            graph.add((checksum, SPDX.checksumValue, Literal(digest, datatype=XSD.hexBinary)))
    return node


def _add_versions(graph: Graph, facts: PackageFacts, dataset: URIRef, *, links: Links) -> None:
    """Link the pinned release IRIs: newest is current, each points at the one before."""
    previous: URIRef | None = None
    for release in facts.releases:
        node = URIRef(links.release(facts.package, release.version))
        graph.add((node, DCAT.version, Literal(release.version)))
        if release.published is not None:
            graph.add((node, DCT.issued, Literal(release.published)))
        graph.add(
            (
                node,
                RDFS.seeAlso,
                URIRef(links.descriptor(facts.package, release.version)),
            )
        )
        if previous is not None:
            graph.add((node, DCAT.previousVersion, previous))
        previous = node
    graph.add(
        (
            dataset,
            DCAT.hasCurrentVersion,
            URIRef(links.release(facts.package, facts.version)),
        )
    )
    if len(facts.releases) > 1:
        before = facts.releases[-2].version
        graph.add(
            (
                dataset,
                DCAT.previousVersion,
                URIRef(links.release(facts.package, before)),
            )
        )


def add_dataset(graph: Graph, facts: PackageFacts, *, links: Links) -> URIRef:
    """Add one package as a ``dcat:Dataset`` (latest release) to `graph`; return its IRI."""
    iri = links.package(facts.package)
    dataset = URIRef(iri)
    graph.add((dataset, RDF.type, DCAT.Dataset))
    graph.add((dataset, DCT_TITLE, Literal(facts.title)))
    graph.add((dataset, DCT.description, Literal(facts.description)))
    graph.add((dataset, DCT.identifier, Literal(iri)))
    graph.add((dataset, DCAT.version, Literal(facts.version)))
    graph.add((dataset, OWL.versionInfo, Literal(facts.version)))
    if facts.latest.changelog:
        graph.add((dataset, ADMS.versionNotes, Literal(facts.latest.changelog)))
    graph.add((dataset, DCT.issued, Literal(facts.issued)))
    graph.add((dataset, DCT.modified, Literal(facts.modified)))
    for keyword in facts.keywords:
        graph.add((dataset, DCAT.keyword, Literal(keyword)))
    if facts.publisher is not None:
        graph.add((dataset, DCT.publisher, _add_agent(graph, facts.publisher, iri)))
    for creator in facts.creators:
        graph.add((dataset, DCT.creator, _add_agent(graph, creator, iri)))
    if facts.contact is not None:
        graph.add((dataset, DCAT.contactPoint, _add_contact(graph, facts.contact, iri)))
    for prop, values in (
        (DCAT.theme, facts.themes),
        (DCT.spatial, facts.spatial),
        (DCT.language, facts.languages),
    ):
        for value in values:
            graph.add((dataset, prop, URIRef(value)))
    if facts.frequency:
        graph.add((dataset, DCT.accrualPeriodicity, URIRef(facts.frequency)))
    _add_period(graph, facts, dataset)
    landing = URIRef(links.page(facts.package))
    graph.add((dataset, DCAT.landingPage, landing))
    graph.add((landing, RDF.type, FOAF.Document))
    for resource in facts.resources:
        for fmt in ("csv", "json"):
            distribution = _add_distribution(graph, facts, resource, fmt, links=links)
            graph.add((dataset, DCAT.distribution, distribution))
    zipped = _add_distribution(graph, facts, None, "zip", links=links)
    graph.add((dataset, DCAT.distribution, zipped))
    _add_versions(graph, facts, dataset, links=links)
    return dataset


def _add_period(graph: Graph, facts: PackageFacts, dataset: URIRef) -> None:
    start = _date_literal(facts.temporal_start) if facts.temporal_start else None
    end = _date_literal(facts.temporal_end) if facts.temporal_end else None
    if start is None and end is None:
        return
    period = stable_node("period", str(dataset))
    graph.add((dataset, DCT.temporal, period))
    graph.add((period, RDF.type, DCT.PeriodOfTime))
    if start is not None:
        graph.add((period, DCAT.startDate, start))
    if end is not None:
        graph.add((period, DCAT.endDate, end))


def _new_graph(store: str = "default") -> Graph:
    graph = Graph(store=store)
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, namespace, override=True, replace=True)
    return graph


def dataset_graph(
    releases: Sequence[ReleaseInfo], *, links: Links, with_vocabulary: bool = True
) -> Graph:
    """One package alone as DCAT-AP (for a dataset's own RDF representation)."""
    graph = _new_graph()
    add_dataset(graph, package_facts(releases), links=links)
    if with_vocabulary:
        graph += vocabulary_graph(graph)
    return graph


def build_catalog_graph(
    packages: Sequence[Sequence[ReleaseInfo]],
    *,
    links: Links,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    total: int | None = None,
    modified_since: datetime | None = None,
    catalog: CatalogInfo | None = None,
    ext: str = "jsonld",
    with_vocabulary: bool = True,
) -> Graph:
    """The DCAT-AP catalog page as a graph.

    :param packages: every package (releases oldest first); filtered by `modified_since` and
        paged here. When `total` is given, `packages` is taken as the selected page already.
    :param ext: the serialization the Hydra page links point at (``jsonld``, ``ttl``, ``rdf``).
    :param with_vocabulary: include the triples that type the controlled IRIs used.
    """
    if total is None:
        selected = select_page(
            packages, page=page, page_size=page_size, modified_since=modified_since
        )
    else:
        check_paging(page, page_size)
        selected = CatalogPage(
            tuple(tuple(r) for r in packages if r), page, page_size, total, modified_since
        )
    info = catalog or CatalogInfo()
    all_facts = [package_facts(releases) for releases in selected.packages]
    graph = _new_graph()
    node = URIRef(links.catalog())
    graph.add((node, RDF.type, DCAT.Catalog))
    graph.add((node, DCT_TITLE, Literal(info.title)))
    graph.add((node, DCT.description, Literal(info.description)))
    publisher = catalog_publisher(info, all_facts, links=links)
    graph.add((node, DCT.publisher, _add_agent(graph, publisher, str(node))))
    homepage = URIRef(links.home())
    graph.add((node, FOAF.homepage, homepage))
    graph.add((homepage, RDF.type, FOAF.Document))
    for language in info.languages:
        graph.add((node, DCT.language, URIRef(language)))
    graph.add((node, DCAT.themeTaxonomy, URIRef(f"{EU}data-theme")))
    if all_facts:
        graph.add((node, DCT.modified, Literal(max(f.modified for f in all_facts))))
    for facts in all_facts:
        graph.add((node, DCAT.dataset, add_dataset(graph, facts, links=links)))
    add_paging(graph, node, selected, links=links, ext=ext)
    if with_vocabulary:
        graph += vocabulary_graph(graph)
    return graph


def serialize_catalog(graph: Graph, fmt: str) -> bytes:
    """Serialize as ``json-ld`` (inline context), ``turtle`` or ``xml`` (or by extension)."""
    name = RDF_FORMATS.get(fmt, fmt)
    if name not in ("json-ld", "turtle", "xml"):
        expected = ", ".join(sorted({*RDF_FORMATS, *RDF_FORMATS.values()}))
        raise NotAcceptable(f"no RDF serialization called {fmt!r}; expected one of {expected}")
    # SimpleMemory keeps insertion order, so sorted triples give the same bytes in every process.
    ordered = _new_graph("SimpleMemory")
    for triple in sorted(graph):
        ordered.add(triple)
    if name == "json-ld":
        document = json.loads(ordered.serialize(format="json-ld", context=CONTEXT))
        return json.dumps(_sorted_sets(document), ensure_ascii=False, indent=2).encode() + b"\n"
    return ordered.serialize(format=name, encoding="utf-8")


def _sorted_sets(value: Any) -> Any:
    """Sort every JSON-LD array (all are unordered sets here: no ``@list`` is emitted)."""
    if isinstance(value, dict):
        return {key: _sorted_sets(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_sorted_sets(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value
