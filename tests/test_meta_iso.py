"""Countries and languages come from the ISO tables: every package is described the same way."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pycountry
from rdflib import RDF, Literal, URIRef

from api.metadata import iso
from api.metadata.ckan import package_dict
from api.metadata.datajson import dataset_entry
from api.metadata.dcat import build_catalog_graph
from api.metadata.schemaorg import dataset_jsonld
from api.metadata.vocab import DCT, SKOS
from api.model import ReleaseInfo
from tests.conformance import dcat_us_validator, schema_errors, shacl_validate
from tests.metadata_fixtures import LINKS, demo

EU = "http://publications.europa.eu/resource/authority/"


def _in_peru() -> list[ReleaseInfo]:
    """The demo package, moved to Peru and written in Spanish and Quechua."""
    releases = demo()
    latest = releases[-1]
    descriptor = dict(latest.descriptor)
    descriptor["x-catalog"] = {
        **descriptor["x-catalog"],
        "spatial": [f"{EU}country/PER"],
        "language": [f"{EU}language/SPA", f"{EU}language/QUE"],
    }
    return [*releases[:-1], replace(latest, descriptor=descriptor)]


def test_every_iso_country_is_known_and_all_but_four_have_an_extent() -> None:
    known = iso.countries()
    assert set(known) == {entry.alpha_3 for entry in pycountry.countries}
    # Too small to be drawn at Natural Earth's 1:50m: Bouvet Island, Gibraltar, Tuvalu and the
    # United States Minor Outlying Islands.
    missing = {code for code, country in known.items() if country.extent is None}
    assert missing == {"BVT", "GIB", "TUV", "UMI"}
    assert iso.country("khm") == iso.Country("Cambodia", "KH", iso.Extent(102.3, 10.4, 107.7, 14.8))


def _well_formed(extent: iso.Extent) -> bool:
    tenths = all(
        Decimal(str(v)) % Decimal("0.1") == 0
        for v in (extent.west, extent.south, extent.east, extent.north)
    )
    return (
        tenths
        and -180 <= extent.west <= extent.east <= 180
        and -90 <= extent.south < extent.north <= 90
    )


def test_each_extent_is_a_box_in_tenths_of_a_degree() -> None:
    extents = {code: c.extent for code, c in iso.countries().items() if c.extent is not None}
    assert len(extents) == len(iso.countries()) - 4
    assert [code for code, extent in extents.items() if not _well_formed(extent)] == []
    assert not _well_formed(iso.Extent(102.3, 9.9, 107.75, 14.7))
    assert not _well_formed(iso.Extent(102.3, 14.7, 107.7, 9.9))


def test_languages_carry_their_bcp47_tag() -> None:
    assert iso.language("ENG") == iso.Language("English", "en")
    assert iso.language("khm") == iso.Language("Khmer", "km")
    assert iso.language("fil") == iso.Language("Filipino", "fil")  # no ISO 639-1 code
    assert iso.language("qqq") is None


def test_a_package_elsewhere_gets_its_place_box_and_languages_in_every_format() -> None:
    releases = _in_peru()
    body = dataset_jsonld(releases, links=LINKS)
    assert body["spatialCoverage"] == [{
        "@type": "Place", "sameAs": f"{EU}country/PER", "name": "Peru",
        "geo": {"@type": "GeoShape", "box": "-18.4 -81.4 0 -68.6"},
    }]  # fmt: skip
    assert body["inLanguage"] == ["es", "qu"]

    entry = dataset_entry(releases, links=LINKS)
    assert (entry["spatial"], entry["language"]) == ("Peru", ["es", "qu"])
    validator = dcat_us_validator("nf-dataset-non-federal.json", refs={})
    assert schema_errors(validator, entry) == []

    extras = {e["key"]: e["value"] for e in package_dict(releases, links=LINKS)["extras"]}
    assert (extras["spatial_uri"], extras["spatial_text"]) == (f"{EU}country/PER", "Peru")

    graph = build_catalog_graph([releases], links=LINKS)
    peru = URIRef(f"{EU}country/PER")
    assert (peru, RDF.type, DCT.Location) in graph
    assert graph.value(peru, SKOS.prefLabel) == Literal("Peru", lang="en")
    quechua = URIRef(f"{EU}language/QUE")
    assert graph.value(quechua, SKOS.prefLabel) == Literal("Quechua", lang="en")
    conforms, report = shacl_validate(graph)
    assert conforms, report.serialize(format="turtle")
