"""DCAT-US 1.1 data.json: the Project Open Data JSON Schemas and the whole body of one entry."""

from __future__ import annotations

from typing import Any

import pytest

from api.metadata.datajson import build_data_json, dataset_entry
from tests.conformance import NF_CATALOG_REFS, dcat_us_validator, schema_errors
from tests.metadata_fixtures import BASE, LINKS, demo, flagship, minimal


def _catalog() -> dict[str, Any]:
    return build_data_json([flagship(), demo(), minimal()], links=LINKS)


def test_catalog_is_valid_against_the_non_federal_catalog_schema() -> None:
    validator = dcat_us_validator("nf-catalog.json", refs=NF_CATALOG_REFS)
    assert schema_errors(validator, _catalog()) == []


@pytest.mark.parametrize("releases", [flagship(), demo(), minimal()],
                         ids=["flagship", "demo", "minimal"])
def test_each_dataset_is_valid_against_the_non_federal_dataset_schema(releases) -> None:
    validator = dcat_us_validator("nf-dataset-non-federal.json", refs={})
    assert schema_errors(validator, dataset_entry(releases, links=LINKS)) == []


@pytest.mark.parametrize(
    ("releases", "contact"),
    [(flagship(), False), (demo(), True)],
    ids=["flagship", "demo"],
)
def test_federal_schema_misses_only_the_us_budget_codes(releases, contact) -> None:
    """bureauCode and programCode are US OMB codes; a non-US publisher has none.

    The flagship names no contact address (it gives none rather than a placeholder), so the
    federal schema, which requires one, also misses contactPoint.hasEmail.
    """
    refs = {
        name: f"dcat-us-1.1-{name}"
        for name in ("distribution.json", "organization.json", "vcard.json")
    }
    validator = dcat_us_validator("dcat-us-1.1-dataset.json", refs=refs)
    missing = [] if contact else ["['contactPoint']: 'hasEmail' is a required property"]
    assert schema_errors(validator, dataset_entry(releases, links=LINKS)) == [
        *missing,
        "[]: 'bureauCode' is a required property",
        "[]: 'programCode' is a required property",
    ]


def test_catalog_envelope() -> None:
    body = _catalog()
    assert {k: v for k, v in body.items() if k != "dataset"} == {
        "@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld",
        "@id": f"{BASE}/data.json",
        "@type": "dcat:Catalog",
        "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json",
    }
    assert [d["identifier"] for d in body["dataset"]] == [
        f"{BASE}/v1/datasets/{name}"
        for name in ("cambodia-scam-crackdown", "demo-series", "minimal-package")
    ]


def test_demo_entry_whole_body() -> None:
    release = f"{BASE}/v1/datasets/demo-series/2.0.0"
    assert dataset_entry(demo(), links=LINKS) == {
        "@type": "dcat:Dataset",
        "title": "Demo series & friends",
        "description": "Monthly counts used to test metadata.",
        "modified": "2025-12-01T09:30:00Z",
        "publisher": {"@type": "org:Organization", "name": "Example Data Desk"},
        "contactPoint": {"@type": "vcard:Contact", "fn": "Data desk",
                         "hasEmail": "mailto:contact@example.org"},
        "identifier": f"{BASE}/v1/datasets/demo-series",
        "accessLevel": "public",
        "issued": "2025-10-18",
        "landingPage": f"{BASE}/datasets/demo-series",
        "describedBy": f"{release}/datapackage.json",
        "describedByType": "application/json",
        "distribution": [
            {"@type": "dcat:Distribution", "title": "Monthly counts, version 2.0.0 (CSV)",
             "description": "One row per month.", "downloadURL": f"{release}/counts.csv",
             "mediaType": "text/csv", "format": "CSV",
             "describedBy": f"{release}/datapackage.json", "describedByType": "application/json"},
            {"@type": "dcat:Distribution", "title": "Monthly counts, version 2.0.0 (JSON)",
             "description": "One row per month.", "accessURL": f"{release}/counts.json",
             "mediaType": "application/json", "format": "JSON",
             "describedBy": f"{release}/datapackage.json", "describedByType": "application/json"},
            {"@type": "dcat:Distribution",
             "title": "Demo series & friends, version 2.0.0 (Frictionless data package, ZIP)",
             "downloadURL": f"{release}.zip", "mediaType": "application/zip", "format": "ZIP"},
        ],
        "keyword": ["demo", "counts"],
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "temporal": "2025-06-27/2025-10-31",
        "spatial": "Cambodia",
        "accrualPeriodicity": "irregular",
        "language": ["en"],
        "theme": ["Justice, legal system and public safety", "Government and public sector"],
        "references": ["https://gov.example.org/bulletin"],
    }


def test_minimal_entry_falls_back_to_the_host() -> None:
    entry = dataset_entry(minimal(), links=LINKS)
    assert entry["publisher"] == {"@type": "org:Organization", "name": "data.example.org"}
    assert entry["contactPoint"] == {"@type": "vcard:Contact", "fn": "data.example.org"}
    assert entry["issued"] == "2025-09-01"
    for absent in ("keyword", "license", "temporal", "spatial", "accrualPeriodicity", "language",
                   "theme", "references"):
        assert absent not in entry


@pytest.mark.parametrize(("drop", "error"), [
    ("publisher", "['dataset', 0]: 'publisher' is a required property"),
    ("contactPoint", "['dataset', 0]: 'contactPoint' is a required property"),
    ("description", "['dataset', 0]: 'description' is a required property"),
])
def test_catalog_schema_follows_its_dataset_ref(drop: str, error: str) -> None:
    validator = dcat_us_validator("nf-catalog.json", refs=NF_CATALOG_REFS)
    body = build_data_json([demo()], links=LINKS)
    del body["dataset"][0][drop]
    assert schema_errors(validator, body) == [error]
