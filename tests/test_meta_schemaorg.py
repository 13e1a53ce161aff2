"""schema.org Dataset / DataCatalog JSON-LD: whole bodies, and the triples a crawler reads."""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

import pytest
from rdflib import RDF, Graph, Literal, URIRef

from api.metadata.schemaorg import catalog_jsonld, dataset_jsonld
from tests.conformance import SDO, schemaorg_graph
from tests.metadata_fixtures import BASE, LINKS, demo, flagship, minimal


def _graph(document: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Graph:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while parsing JSON-LD")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return schemaorg_graph(document)


@pytest.mark.parametrize("releases", [flagship(), demo()], ids=["flagship", "demo"])
def test_dataset_triples_a_crawler_needs(releases, monkeypatch) -> None:
    graph = _graph(dataset_jsonld(releases, links=LINKS), monkeypatch)
    dataset = URIRef(f"{BASE}/v1/datasets/{releases[-1].package}")
    assert (dataset, RDF.type, SDO.Dataset) in graph
    for prop in (SDO.name, SDO.description, SDO.temporalCoverage, SDO.version):
        assert isinstance(graph.value(dataset, prop), Literal), prop
    assert graph.value(dataset, SDO.license) == URIRef(
        "https://creativecommons.org/licenses/by/4.0/")
    creators = list(graph.objects(dataset, SDO.creator))
    assert creators and all(graph.value(c, SDO.name) for c in creators)
    place = graph.value(dataset, SDO.spatialCoverage)
    assert graph.value(place, SDO.name) == Literal("Cambodia")
    assert graph.value(graph.value(place, SDO.geo), SDO.box) == Literal("10.4 102.3 14.8 107.7")
    variables = list(graph.objects(dataset, SDO.variableMeasured))
    fields = sum(len(r["schema"]["fields"]) for r in releases[-1].descriptor["resources"])
    assert len(variables) == fields
    assert all((v, RDF.type, SDO.PropertyValue) in graph for v in variables)
    downloads = list(graph.objects(dataset, SDO.distribution))
    assert len(downloads) == len(releases[-1].resources) + 1
    for download in downloads:
        assert (download, RDF.type, SDO.DataDownload) in graph
        assert isinstance(graph.value(download, SDO.contentUrl), URIRef)
        assert graph.value(download, SDO.encodingFormat) in (Literal("text/csv"),
                                                             Literal("application/zip"))


def test_flagship_description_fits_search_engine_limits() -> None:
    assert 50 <= len(dataset_jsonld(flagship(), links=LINKS)["description"]) <= 5000


def test_demo_dataset_whole_body() -> None:
    release = f"{BASE}/v1/datasets/demo-series/2.0.0"
    assert dataset_jsonld(demo(), links=LINKS) == {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": f"{BASE}/v1/datasets/demo-series",
        "identifier": f"{BASE}/v1/datasets/demo-series",
        "name": "Demo series & friends",
        "description": "Monthly counts used to test metadata.",
        "url": f"{BASE}/datasets/demo-series",
        "version": "2.0.0",
        "datePublished": "2025-10-18",
        "dateModified": "2025-12-01T09:30:00Z",
        "isAccessibleForFree": True,
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "creator": [
            {"@type": "Person", "name": "Ana María López", "givenName": "Ana María",
             "familyName": "López", "affiliation": {"@type": "Organization",
                                                    "name": "Example University"},
             "email": "ana@example.org"},
            {"@type": "Organization", "name": "Example Data Desk"},
        ],
        "publisher": {"@type": "Organization", "name": "Example Data Desk",
                      "email": "desk@example.org", "url": "https://desk.example.org/"},
        "keywords": ["demo", "counts"],
        "inLanguage": ["en"],
        "temporalCoverage": "2025-06-27/2025-10-31",
        "spatialCoverage": [{
            "@type": "Place", "sameAs": "http://publications.europa.eu/resource/authority/"
                                        "country/KHM",
            "name": "Cambodia", "geo": {"@type": "GeoShape", "box": "10.4 102.3 14.8 107.7"}}],
        "variableMeasured": [
            {"@type": "PropertyValue", "name": "month", "alternateName": "Month"},
            {"@type": "PropertyValue", "name": "count", "description": "People counted.",
             "unitText": "person"},
        ],
        "distribution": [
            {"@type": "DataDownload", "name": "Monthly counts (CSV, version 2.0.0)",
             "encodingFormat": "text/csv", "contentUrl": f"{release}/counts.csv",
             "description": "One row per month.", "contentSize": "108 B", "sha256": "b" * 64},
            {"@type": "DataDownload",
             "name": "Demo series & friends (Frictionless data package, ZIP, version 2.0.0)",
             "encodingFormat": "application/zip", "contentUrl": f"{release}.zip"},
        ],
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "Open data catalog",
                                  "url": f"{BASE}/"},
        "citation": [
            {"@type": "CreativeWork", "name": "Ministry bulletin",
             "url": "https://gov.example.org/bulletin"},
            {"@type": "CreativeWork", "name": "Reports table"},
        ],
        "creditText": "López, A. M., & Example Data Desk. (2025). Demo series & friends"
                      f" (Version 2.0.0) [Data set]. {release}/datapackage.json",
    }


def test_minimal_dataset_omits_what_is_unknown() -> None:
    body = dataset_jsonld(minimal(), links=LINKS)
    for absent in ("license", "creator", "publisher", "keywords", "inLanguage",
                   "temporalCoverage", "spatialCoverage", "citation"):
        assert absent not in body
    assert body["variableMeasured"] == [{"@type": "PropertyValue", "name": "id"}]


def test_open_ended_temporal_coverage() -> None:
    releases = demo()
    latest = releases[-1]
    descriptor = dict(latest.descriptor)
    descriptor["x-catalog"] = {**descriptor["x-catalog"], "temporal": {"start": "2025-06-27"}}
    changed = replace(latest, descriptor=descriptor)
    body = dataset_jsonld([*releases[:-1], changed], links=LINKS)
    assert body["temporalCoverage"] == "2025-06-27/.."


def test_catalog_whole_body(monkeypatch) -> None:
    body = catalog_jsonld([demo(), minimal()], links=LINKS)
    assert body == {
        "@context": "https://schema.org/",
        "@type": "DataCatalog",
        "@id": f"{BASE}/catalog",
        "name": "Open data catalog",
        "description": "Versioned, validated open data packages served by a read-only API.",
        "url": f"{BASE}/",
        "publisher": {"@type": "Organization", "name": "data.example.org",
                      "url": f"{BASE}/"},
        "inLanguage": ["en"],
        "dataset": [
            {"@type": "Dataset", "@id": f"{BASE}/v1/datasets/demo-series",
             "name": "Demo series & friends",
             "description": "Monthly counts used to test metadata.",
             "url": f"{BASE}/datasets/demo-series", "version": "2.0.0",
             "dateModified": "2025-12-01T09:30:00Z",
             "license": "https://creativecommons.org/licenses/by/4.0/"},
            {"@type": "Dataset", "@id": f"{BASE}/v1/datasets/minimal-package",
             "name": "minimal-package",
             "description": "Data package minimal-package, version 0.1.0, with 1 resource:"
                            " things.",
             "url": f"{BASE}/datasets/minimal-package", "version": "0.1.0",
             "dateModified": "2025-09-01T12:00:00Z"},
        ],
    }
    graph = _graph(body, monkeypatch)
    assert set(graph.objects(URIRef(f"{BASE}/catalog"), SDO.dataset)) == {
        URIRef(f"{BASE}/v1/datasets/demo-series"), URIRef(f"{BASE}/v1/datasets/minimal-package")}
