"""DCAT-AP 3.0.1 catalog: SHACL conformance, mandatory properties, serializations, Hydra paging."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from api.errors import BadQuery, NotAcceptable
from api.metadata.dcat import (
    CONTEXT,
    MEDIA_TYPES,
    build_catalog_graph,
    dataset_graph,
    serialize_catalog,
)
from api.metadata.dcat_paging import select_page
from api.metadata.vocab import DCAT, DCT, FOAF, HYDRA, SKOS, SPDX, vocabulary_graph
from tests.conformance import DCAT_SHAPES, SH, failed_paths, shacl_validate
from tests.metadata_fixtures import BASE, LINKS, demo, flagship, minimal

EU = "http://publications.europa.eu/resource/authority/"
DEMO = URIRef(f"{BASE}/v1/datasets/demo-series")
RELEASE = f"{BASE}/v1/datasets/demo-series"


def _catalog(**kwargs: object) -> Graph:
    return build_catalog_graph([flagship(), demo(), minimal()], links=LINKS, **kwargs)


def test_catalog_conforms_with_vocabulary_graph_merged() -> None:
    data = _catalog(with_vocabulary=False)
    conforms, report = shacl_validate(data + vocabulary_graph(data))
    assert conforms, report.serialize(format="turtle")


@pytest.mark.parametrize(
    "shapes", [DCAT_SHAPES, ("dcat-ap-3.0.1-SHACL.ttl",)], ids=["html", "combined"]
)
def test_served_catalog_conforms_alone(shapes: tuple[str, ...]) -> None:
    conforms, report = shacl_validate(_catalog(), *shapes)
    assert conforms, report.serialize(format="turtle")


def test_without_vocabulary_the_closed_world_range_check_fails() -> None:
    conforms, report = shacl_validate(_catalog(with_vocabulary=False))
    assert not conforms
    assert failed_paths(report) == {
        DCAT.theme,
        DCT.spatial,
        DCT.language,
        DCT.accrualPeriodicity,
        DCT["format"],
        DCAT.mediaType,
        DCT.license,
        DCAT.themeTaxonomy,
        URIRef("http://data.europa.eu/r5r/availability"),
    }


def test_controlled_vocabulary_shapes_only_flag_the_spdx_pattern_bug() -> None:
    """mdr-vocabularies.shape.ttl expects ``https://spdx.org/rdf/terms`` but SPDX is http://."""
    _, report = shacl_validate(_catalog(), "dcatap301-html-mdr-vocabularies.shape.ttl")
    violations = {
        str(report.value(r, SH.resultPath)) for r in report.objects(None, SH.result)
        if report.value(r, SH.resultSeverity) == SH.Violation
    }
    assert violations <= {str(SPDX.algorithm)}


CATALOG = URIRef(f"{BASE}/catalog")
CSV_DIST = URIRef(f"{RELEASE}/2.0.0#counts-csv")

# (case, subject: a node, or the class whose first instance is taken, property to drop)
MANDATORY = [
    ("dataset title", DEMO, DCT["title"]),
    ("dataset description", DEMO, DCT.description),
    ("distribution accessURL", CSV_DIST, DCAT.accessURL),
    ("catalog title", CATALOG, DCT["title"]),
    ("catalog description", CATALOG, DCT.description),
    ("catalog publisher", CATALOG, DCT.publisher),
    ("agent name", FOAF.Agent, FOAF.name),
    ("checksum value", SPDX.Checksum, SPDX.checksumValue),
    ("checksum algorithm", SPDX.Checksum, SPDX.algorithm),
    ("theme label", URIRef(f"{EU}data-theme/JUST"), SKOS.prefLabel),
    ("theme scheme title", URIRef(f"{EU}data-theme"), DCT["title"]),
]
CLASSES = {FOAF.Agent, SPDX.Checksum}


@pytest.mark.parametrize(("case", "subject", "prop"), MANDATORY, ids=[m[0] for m in MANDATORY])
def test_dropping_a_mandatory_property_breaks_conformance(case, subject, prop) -> None:
    graph = _catalog()
    if subject in CLASSES:
        subject = sorted(graph.subjects(RDF.type, subject), key=str)[0]
    assert (subject, prop, None) in graph, case
    graph.remove((subject, prop, None))
    conforms, report = shacl_validate(graph)
    assert not conforms
    assert prop in failed_paths(report)


def test_dataset_describes_the_latest_release() -> None:
    graph = dataset_graph(demo(), links=LINKS, with_vocabulary=False)
    values = {(p, o) for p, o in graph.predicate_objects(DEMO) if not isinstance(o, BNode)}
    distributions = {URIRef(f"{RELEASE}/2.0.0#{name}")
                     for name in ("counts-csv", "counts-json", "zip")}
    assert values == {
        (RDF.type, DCAT.Dataset),
        (DCT["title"], Literal("Demo series & friends")),
        (DCT.description, Literal("Monthly counts used to test metadata.")),
        (DCT.identifier, Literal(str(DEMO))),
        (DCAT.version, Literal("2.0.0")),
        (URIRef("http://www.w3.org/2002/07/owl#versionInfo"), Literal("2.0.0")),
        (URIRef("http://www.w3.org/ns/adms#versionNotes"), Literal("Release 2.0.0.")),
        (DCT.issued, Literal("2025-10-18", datatype=XSD.date)),
        (DCT.modified, Literal("2025-12-01T09:30:00+00:00", datatype=XSD.dateTime)),
        (DCAT.keyword, Literal("demo")),
        (DCAT.keyword, Literal("counts")),
        (DCAT.theme, URIRef(f"{EU}data-theme/JUST")),
        (DCAT.theme, URIRef(f"{EU}data-theme/GOVE")),
        (DCT.spatial, URIRef(f"{EU}country/KHM")),
        (DCT.language, URIRef(f"{EU}language/ENG")),
        (DCT.accrualPeriodicity, URIRef(f"{EU}frequency/IRREG")),
        (DCAT.landingPage, URIRef(f"{BASE}/datasets/demo-series")),
        (DCAT.hasCurrentVersion, URIRef(f"{RELEASE}/2.0.0")),
        (DCAT.previousVersion, URIRef(f"{RELEASE}/1.1.0")),
        *((DCAT.distribution, d) for d in distributions),
    }
    publisher = graph.value(DEMO, DCT.publisher)
    assert set(graph.predicate_objects(publisher)) == {
        (RDF.type, FOAF.Agent), (RDF.type, FOAF.Organization),
        (FOAF.name, Literal("Example Data Desk")),
        (FOAF.mbox, URIRef("mailto:desk@example.org")),
        (FOAF.homepage, URIRef("https://desk.example.org/")),
    }
    contact = graph.value(DEMO, DCAT.contactPoint)
    vcard = Namespace("http://www.w3.org/2006/vcard/ns#")
    assert set(graph.predicate_objects(contact)) == {
        (RDF.type, vcard.Kind), (vcard.fn, Literal("Data desk")),
        (vcard.hasEmail, URIRef("mailto:contact@example.org")),
    }
    period = graph.value(DEMO, DCT.temporal)
    assert set(graph.predicate_objects(period)) == {
        (RDF.type, DCT.PeriodOfTime),
        (DCAT.startDate, Literal("2025-06-27", datatype=XSD.date)),
        (DCAT.endDate, Literal("2025-10-31", datatype=XSD.date)),
    }
    creators = {graph.value(c, FOAF.name) for c in graph.objects(DEMO, DCT.creator)}
    assert creators == {Literal("Ana María López"), Literal("Example Data Desk")}


def test_csv_distribution_is_the_published_file() -> None:
    graph = dataset_graph(demo(), links=LINKS, with_vocabulary=False)
    node = URIRef(f"{RELEASE}/2.0.0#counts-csv")
    url = URIRef(f"{RELEASE}/2.0.0/counts.csv")
    values = {(p, o) for p, o in graph.predicate_objects(node) if p != SPDX.checksum}
    assert values == {
        (RDF.type, DCAT.Distribution),
        (DCT["title"], Literal("Monthly counts, version 2.0.0 (CSV)")),
        (DCT.description, Literal("One row per month.")),
        (DCAT.accessURL, url),
        (DCAT.downloadURL, url),
        (DCT["format"], URIRef(f"{EU}file-type/CSV")),
        (DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/text/csv")),
        (URIRef("http://data.europa.eu/r5r/availability"),
         URIRef(f"{EU}planned-availability/STABLE")),
        (DCT.license, URIRef(f"{EU}licence/CC_BY_4_0")),
        (DCAT.byteSize, Literal(108, datatype=XSD.nonNegativeInteger)),
        (DCT.issued, Literal("2025-12-01", datatype=XSD.date)),
        (DCT.modified, Literal("2025-12-01T09:30:00+00:00", datatype=XSD.dateTime)),
    }
    checksum = graph.value(node, SPDX.checksum)
    assert set(graph.predicate_objects(checksum)) == {
        (RDF.type, SPDX.Checksum),
        (SPDX.algorithm, SPDX.checksumAlgorithm_sha256),
        (SPDX.checksumValue, Literal("b" * 64, datatype=XSD.hexBinary)),
    }


def test_json_distribution_is_an_api_not_a_download() -> None:
    graph = dataset_graph(demo(), links=LINKS)
    node = URIRef(f"{RELEASE}/2.0.0#counts-json")
    assert graph.value(node, DCAT.accessURL) == URIRef(f"{RELEASE}/2.0.0/counts.json")
    assert graph.value(node, DCAT.downloadURL) is None
    assert graph.value(node, DCAT.byteSize) is None
    assert graph.value(node, DCAT.mediaType) == URIRef(
        "https://www.iana.org/assignments/media-types/application/json")


def test_earlier_releases_are_linked_not_separate_datasets() -> None:
    graph = _catalog()
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert datasets == {URIRef(f"{BASE}/v1/datasets/{name}") for name in
                        ("cambodia-scam-crackdown", "demo-series", "minimal-package")}
    assert set(graph.objects(CATALOG, DCAT.dataset)) == datasets
    chain = {(s, o) for s, o in graph.subject_objects(DCAT.previousVersion)
             if str(s).startswith(RELEASE)}
    assert chain == {
        (DEMO, URIRef(f"{RELEASE}/1.1.0")),
        (URIRef(f"{RELEASE}/2.0.0"), URIRef(f"{RELEASE}/1.1.0")),
        (URIRef(f"{RELEASE}/1.1.0"), URIRef(f"{RELEASE}/1.0.0")),
    }
    old = URIRef(f"{RELEASE}/1.0.0")
    assert set(graph.predicate_objects(old)) == {
        (DCAT.version, Literal("1.0.0")),
        (DCT.issued, Literal("2025-10-18", datatype=XSD.date)),
        (URIRef("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
         URIRef(f"{RELEASE}/1.0.0/datapackage.json")),
    }
    assert (None, DCT.hasVersion, None) not in graph
    assert (None, DCAT.hasVersion, None) not in graph


def test_minimal_package_falls_back_honestly() -> None:
    graph = dataset_graph(minimal(), links=LINKS)
    dataset = URIRef(f"{BASE}/v1/datasets/minimal-package")
    assert graph.value(dataset, DCT["title"]) == Literal("minimal-package")
    assert graph.value(dataset, DCT.description) == Literal(
        "Data package minimal-package, version 0.1.0, with 1 resource: things.")
    for prop in (DCT.publisher, DCAT.contactPoint, DCT.license, DCAT.theme, DCT.temporal):
        assert graph.value(dataset, prop) is None, prop
    assert (
        graph.value(URIRef(f"{BASE}/v1/datasets/minimal-package/0.1.0#things-csv"), SPDX.checksum)
        is None
    )
    conforms, report = shacl_validate(graph)
    assert conforms, report.serialize(format="turtle")


@pytest.mark.parametrize(("packages", "expected"), [
    ([demo()], "Example Data Desk"),
    ([demo(), minimal()], "data.example.org"),
    ([minimal()], "data.example.org"),
])
def test_catalog_publisher(packages, expected) -> None:
    graph = build_catalog_graph(packages, links=LINKS)
    agent = graph.value(CATALOG, DCT.publisher)
    assert graph.value(agent, FOAF.name) == Literal(expected)


@pytest.mark.parametrize("ext", sorted(MEDIA_TYPES))
def test_serializations_round_trip(ext: str) -> None:
    graph = _catalog()
    parsed = Graph().parse(data=serialize_catalog(graph, ext), format={
        "jsonld": "json-ld", "ttl": "turtle", "rdf": "xml"}[ext])
    assert isomorphic(graph, parsed)
    assert len(parsed) == len(graph)


def test_json_ld_has_an_inline_context_and_parses_offline(monkeypatch) -> None:
    body = serialize_catalog(_catalog(), "json-ld")
    document = json.loads(body)
    assert document["@context"] == CONTEXT

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while parsing JSON-LD")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    parsed = Graph().parse(data=body, format="json-ld")
    assert (CATALOG, RDF.type, DCAT.Catalog) in parsed


def test_media_types() -> None:
    assert MEDIA_TYPES == {"jsonld": "application/ld+json", "ttl": "text/turtle",
                           "rdf": "application/rdf+xml"}
    with pytest.raises(NotAcceptable):
        serialize_catalog(Graph(), "n3")


def _page(graph: Graph) -> tuple[URIRef, dict[str, str]]:
    view = graph.value(CATALOG, HYDRA.view)
    links = {str(p).rsplit("#", 1)[1]: str(o) for p, o in graph.predicate_objects(view)
             if p in (HYDRA.first, HYDRA.next, HYDRA.previous, HYDRA.last)}
    return view, links


def _url(page: int, size: int = 1, ext: str = "jsonld", since: str = "") -> str:
    extra = f"&modified_since={since.replace(':', '%3A')}" if since else ""
    return f"{BASE}/catalog.{ext}?page={page}&page_size={size}{extra}"


@pytest.mark.parametrize(("page", "links"), [
    (1, {"first": _url(1), "next": _url(2), "last": _url(3)}),
    (2, {"first": _url(1), "next": _url(3), "previous": _url(1), "last": _url(3)}),
    (3, {"first": _url(1), "previous": _url(2), "last": _url(3)}),
    (4, {"first": _url(1), "previous": _url(3), "last": _url(3)}),
])
def test_hydra_paging(page: int, links: dict[str, str]) -> None:
    graph = _catalog(page=page, page_size=1)
    view, found = _page(graph)
    assert str(view) == _url(page)
    assert found == links
    assert set(graph.objects(view, RDF.type)) == {
        HYDRA.PartialCollectionView, HYDRA.PagedCollection}
    assert graph.value(view, HYDRA.totalItems) == Literal(3)
    assert graph.value(view, HYDRA.itemsPerPage) == Literal(1)
    assert graph.value(CATALOG, HYDRA.totalItems) == Literal(3)
    listed = set(graph.objects(CATALOG, DCAT.dataset))
    assert len(listed) == (1 if page <= 3 else 0)
    search = graph.value(CATALOG, HYDRA.search)
    assert graph.value(search, HYDRA.template) == Literal(
        f"{BASE}/catalog.jsonld{{?page,page_size,modified_since}}")
    variables = {str(graph.value(m, HYDRA.variable)) for m in graph.objects(search, HYDRA.mapping)}
    assert variables == {"page", "page_size", "modified_since"}


@pytest.mark.parametrize(("since", "expected"), [
    (None, {"cambodia-scam-crackdown", "demo-series", "minimal-package"}),
    (datetime(2025, 11, 1), {"cambodia-scam-crackdown", "demo-series"}),
    (datetime(2025, 12, 1, 9, 30, tzinfo=UTC), {"cambodia-scam-crackdown", "demo-series"}),
    (datetime(2025, 12, 1, 9, 31), {"cambodia-scam-crackdown"}),
    (datetime(2030, 1, 1), set()),
])
def test_modified_since_filters(since: datetime | None, expected: set[str]) -> None:
    graph = _catalog(modified_since=since)
    listed = {str(d).rsplit("/", 1)[1] for d in graph.objects(CATALOG,
                                                               DCAT.dataset)}
    assert listed == expected
    assert graph.value(CATALOG, HYDRA.totalItems) == Literal(len(expected))


def test_filtered_page_links_keep_the_filter_and_format() -> None:
    graph = _catalog(page_size=1, modified_since=datetime(2025, 11, 1), ext="ttl")
    _, links = _page(graph)
    since = "2025-11-01T00:00:00Z"
    assert links == {"first": _url(1, ext="ttl", since=since), "next": _url(2, ext="ttl",
                     since=since), "last": _url(2, ext="ttl", since=since)}


def test_caller_paged_input_is_taken_as_is() -> None:
    graph = build_catalog_graph([demo()], links=LINKS, page=2, page_size=1, total=3)
    _, links = _page(graph)
    assert links == {"first": _url(1), "next": _url(3), "previous": _url(1), "last": _url(3)}
    assert set(graph.objects(CATALOG, DCAT.dataset)) == {DEMO}


@pytest.mark.parametrize(("page", "size", "params"), [
    (0, 10, ["page"]), (1, 0, ["page_size"]), (1, 1001, ["page_size"]),
    (-1, 5000, ["page", "page_size"]),
])
def test_bad_paging_is_a_bad_query(page: int, size: int, params: list[str]) -> None:
    with pytest.raises(BadQuery) as caught:
        select_page([demo()], page=page, page_size=size)
    assert [e.param for e in caught.value.errors] == params
    assert {e.code for e in caught.value.errors} == {"invalid-control"}


@pytest.mark.slow
def test_serialized_bytes_are_the_same_in_every_process() -> None:
    script = (
        "import hashlib\n"
        "from tests.metadata_fixtures import BASE, LINKS, demo, flagship, minimal\n"
        "from api.metadata.dcat import build_catalog_graph, serialize_catalog\n"
        "g = build_catalog_graph([flagship(), demo(), minimal()], links=LINKS)\n"
        "print([hashlib.sha256(serialize_catalog(g, f)).hexdigest() for f in "
        "('jsonld', 'ttl', 'rdf')])\n"
    )
    root = Path(__file__).resolve().parent.parent
    outputs = {
        subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                       check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
