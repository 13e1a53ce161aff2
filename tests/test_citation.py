"""Citations: each format read back by a standard parser, or checked against its spec's rules."""

from __future__ import annotations

import json
import re

import bibtexparser
import jsonschema
import pytest
import rispy
import yaml

from api.errors import BadQuery
from api.metadata.citation import FORMATS, render_citation
from tests.conformance import CFF_SCHEMA, CSL_ITEM_SCHEMA
from tests.metadata_fixtures import BASE, LINKS, demo, flagship, minimal

DEMO_URL = f"{BASE}/v1/datasets/demo-series/2.0.0/datapackage.json"
MINIMAL_URL = f"{BASE}/v1/datasets/minimal-package/0.1.0/datapackage.json"
RELEASES = {"demo": demo()[-1], "minimal": minimal()[-1], "flagship": flagship()[-1]}


def test_registry_media_types() -> None:
    assert {name: fmt.media_type for name, fmt in FORMATS.items()} == {
        "apa": "text/plain; charset=utf-8",
        "bibtex": "application/x-bibtex; charset=utf-8",
        "ris": "application/x-research-info-systems",
        "csl-json": "application/vnd.citationstyles.csl+json",
        "cff": "application/yaml",
    }


@pytest.mark.parametrize(("case", "expected"), [
    ("demo", "López, A. M., & Example Data Desk. (2025). *Demo series & friends* (Version 2.0.0)"
             f" [Data set]. {DEMO_URL}"),
    ("minimal", "*minimal-package* (Version 0.1.0) [Data set]. (2025). data.example.org."
                f" {MINIMAL_URL}"),
])
def test_apa(case: str, expected: str) -> None:
    assert render_citation(RELEASES[case], "apa", links=LINKS) == expected


def test_apa_flagship_names_the_release() -> None:
    text = render_citation(RELEASES["flagship"], "apa", links=LINKS)
    version = RELEASES["flagship"].version
    assert re.fullmatch(rf".+\. \(\d{{4}}\)\. \*.+\* \(Version {re.escape(version)}\) "
                        rf"\[Data set\]\.( .+\.)? https://\S+/{re.escape(version)}/"
                        r"datapackage\.json", text)


@pytest.mark.parametrize(("case", "entry"), [
    ("demo", {
        "ENTRYTYPE": "misc", "ID": "demo-series-2.0.0",
        "author": "López, Ana María and {Example Data Desk}",
        "title": "{Demo series \\& friends}", "year": "2025", "date": "2025-12-01",
        "version": "2.0.0", "publisher": "Example Data Desk", "url": DEMO_URL,
        "howpublished": f"\\url{{{DEMO_URL}}}", "note": "Data set. Licence: CC-BY-4.0",
    }),
    ("minimal", {
        "ENTRYTYPE": "misc", "ID": "minimal-package-0.1.0", "title": "{minimal-package}",
        "year": "2025", "date": "2025-09-01", "version": "0.1.0",
        "publisher": "data.example.org", "url": MINIMAL_URL,
        "howpublished": f"\\url{{{MINIMAL_URL}}}", "note": "Data set. Licence: not specified",
    }),
])
def test_bibtex_parses_to_one_entry(case: str, entry: dict[str, str]) -> None:
    database = bibtexparser.loads(render_citation(RELEASES[case], "bibtex", links=LINKS))
    assert database.entries == [entry]


@pytest.mark.parametrize(("case", "record"), [
    ("demo", {
        "type_of_reference": "DATA", "authors": ["López, Ana María", "Example Data Desk"],
        "title": "Demo series & friends", "year": "2025", "date": "2025/12/01",
        "edition": "2.0.0", "publisher": "Example Data Desk", "urls": [DEMO_URL],
        "keywords": ["demo", "counts"], "notes": ["Licence: CC-BY-4.0"],
    }),
    ("minimal", {
        "type_of_reference": "DATA", "title": "minimal-package", "year": "2025",
        "date": "2025/09/01", "edition": "0.1.0", "publisher": "data.example.org",
        "urls": [MINIMAL_URL], "notes": ["Licence: not specified"],
    }),
])
def test_ris_parses_to_one_record(case: str, record: dict[str, object]) -> None:
    text = render_citation(RELEASES[case], "ris", links=LINKS)
    assert rispy.loads(text) == [record]
    assert text.endswith("ER  - \r\n") and "\n" not in text.replace("\r\n", "")


@pytest.mark.parametrize("case", sorted(RELEASES))
def test_csl_json_follows_the_csl_data_rules(case: str) -> None:
    items = json.loads(render_citation(RELEASES[case], "csl-json", links=LINKS))
    assert list(jsonschema.Draft7Validator(CSL_ITEM_SCHEMA).iter_errors(items)) == []
    assert len(items) == 1


def test_csl_json_whole_body() -> None:
    assert json.loads(render_citation(RELEASES["demo"], "csl-json", links=LINKS)) == [{
        "id": "demo-series-2.0.0", "type": "dataset", "title": "Demo series & friends",
        "version": "2.0.0", "issued": {"date-parts": [[2025, 12, 1]]},
        "publisher": "Example Data Desk", "URL": DEMO_URL,
        "abstract": "Monthly counts used to test metadata.",
        "author": [{"family": "López", "given": "Ana María"}, {"literal": "Example Data Desk"}],
        "keyword": "demo, counts", "license": "CC-BY-4.0",
    }]


@pytest.mark.parametrize("case", sorted(RELEASES))
def test_cff_follows_the_cff_1_2_0_rules(case: str) -> None:
    document = yaml.safe_load(render_citation(RELEASES[case], "cff", links=LINKS))
    assert list(jsonschema.Draft7Validator(CFF_SCHEMA).iter_errors(document)) == []


def test_cff_whole_body() -> None:
    assert yaml.safe_load(render_citation(RELEASES["demo"], "cff", links=LINKS)) == {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it using these metadata.",
        "type": "dataset", "title": "Demo series & friends", "version": "2.0.0",
        "date-released": "2025-12-01", "url": DEMO_URL, "license": "CC-BY-4.0",
        "abstract": "Monthly counts used to test metadata.", "keywords": ["demo", "counts"],
        "authors": [
            {"family-names": "López", "given-names": "Ana María",
             "affiliation": "Example University", "email": "ana@example.org"},
            {"name": "Example Data Desk"},
        ],
        "contact": [{"name": "Data desk", "email": "contact@example.org"}],
        "identifiers": [{"type": "url", "value": DEMO_URL,
                         "description": "The datapackage.json of this release"}],
    }


def test_cff_credits_the_host_when_nobody_is_named() -> None:
    document = yaml.safe_load(render_citation(RELEASES["minimal"], "cff", links=LINKS))
    assert document["authors"] == [{"name": "data.example.org", "website": f"{BASE}/"}]
    assert "license" not in document


@pytest.mark.parametrize("fmt", ["mla", "", "BIBTEX"])
def test_unknown_format_is_a_bad_query(fmt: str) -> None:
    with pytest.raises(BadQuery) as caught:
        render_citation(RELEASES["demo"], fmt, links=LINKS)
    assert caught.value.details == {"errors": [{
        "param": "format", "code": "invalid-control",
        "message": f"unknown citation format {fmt!r}; expected one of apa, bibtex, ris, "
                   "csl-json, cff",
    }]}
