"""The official conformance artefacts, loaded for tests, and the format rules we check against.

The DCAT-AP 3.0.1 SHACL shapes and the DCAT-US 1.1 JSON Schemas are read from
``../shared/conformance`` (never copied into the project); a test that needs a folder that is
absent is skipped, saying which. The CSL-JSON and CFF rules are the parts of those formats'
published schemas that apply to the citations we write.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
import pyshacl
import pytest
from rdflib import Graph, Namespace
from rdflib.term import Node
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.metadata_fixtures import CONFORMANCE

# --- DCAT-AP 3.0.1 ------------------------------------------------------------------------------

SH = Namespace("http://www.w3.org/ns/shacl#")
DCATAP_DIR = CONFORMANCE / "dcat-ap-3.0.1"
DCAT_SHAPES = ("dcatap301-html-shapes.ttl", "dcatap301-html-range.ttl")
VOCAB_STUB = "vocab-stub.ttl"


@lru_cache
def dcat_graph(*names: str) -> Graph:
    """The named files of the DCAT-AP 3.0.1 folder as one graph; skip the test when absent."""
    if not DCATAP_DIR.is_dir():
        pytest.skip(f"{DCATAP_DIR} is absent: DCAT-AP 3.0.1 SHACL shapes not available")
    graph = Graph()
    for name in names:
        graph.parse(DCATAP_DIR / name)
    return graph


def shacl_validate(data: Graph, *names: str) -> tuple[bool, Graph]:
    """Validate `data` against the named shape files (shapes + range by default)."""
    conforms, report, _ = pyshacl.validate(data, shacl_graph=dcat_graph(*(names or DCAT_SHAPES)))
    return bool(conforms), report


def failed_paths(report: Graph) -> set[Node | None]:
    """The property paths of every result in a SHACL validation report."""
    return {report.value(r, SH.resultPath) for r in report.objects(None, SH.result)}


# --- DCAT-US 1.1 --------------------------------------------------------------------------------

DCAT_US_DIR = CONFORMANCE / "dcat-us-1.1"
POD = "https://project-open-data.cio.gov/v1.1/schema/"
NF_CATALOG_REFS = {"dataset-non-federal.json": "nf-dataset-non-federal.json"}


@lru_cache
def dcat_us_schema(name: str) -> dict[str, Any]:
    """One DCAT-US 1.1 JSON Schema; skip the test when the folder is absent."""
    if not DCAT_US_DIR.is_dir():
        pytest.skip(f"{DCAT_US_DIR} is absent: DCAT-US 1.1 JSON Schemas not available")
    schema: dict[str, Any] = json.loads((DCAT_US_DIR / name).read_text(encoding="utf-8"))
    return schema


def dcat_us_validator(name: str, *, refs: dict[str, str]) -> jsonschema.Draft4Validator:
    """A Draft 4 validator with the schemas it ``$ref``s registered under their POD URLs."""
    registry: Registry = Registry().with_resources(
        (POD + target, Resource.from_contents(dcat_us_schema(local), default_specification=DRAFT4))
        for target, local in refs.items()
    )
    return jsonschema.Draft4Validator(
        dcat_us_schema(name),
        registry=registry,
        format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
    )


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    """Every error of `document`, as ``path: message`` lines, sorted."""
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document))


# --- schema.org ---------------------------------------------------------------------------------

SDO = Namespace("https://schema.org/")
# rdflib cannot fetch https://schema.org/ offline: an inline context with the same vocabulary
# (and the IRI-valued properties typed as such) reads the document as a crawler would.
SCHEMAORG_OFFLINE_CONTEXT: dict[str, Any] = {
    "@vocab": "https://schema.org/",
    **{term: {"@type": "@id"} for term in ("url", "license", "contentUrl", "sameAs")},
}


def schemaorg_graph(document: dict[str, Any]) -> Graph:
    """Parse a schema.org JSON-LD document with the remote context replaced by an inline one."""
    assert document["@context"] == "https://schema.org/"
    offline = {**document, "@context": SCHEMAORG_OFFLINE_CONTEXT}
    return Graph().parse(data=json.dumps(offline), format="json-ld")


# --- Citation formats ---------------------------------------------------------------------------

# The rules of CSL-JSON (citation-style-language/schema, csl-data.json) that apply to our items.
CSL_NAME = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in ("family", "given", "literal")},
    "anyOf": [{"required": ["family"]}, {"required": ["literal"]}],
    "additionalProperties": False,
}
CSL_ITEM_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": ["string", "number"]},
            "type": {"enum": ["dataset"]},
            "title": {"type": "string"},
            "version": {"type": "string"},
            "publisher": {"type": "string"},
            "URL": {"type": "string"},
            "abstract": {"type": "string"},
            "keyword": {"type": "string"},
            "license": {"type": "string"},
            "author": {"type": "array", "items": CSL_NAME},
            "issued": {
                "type": "object",
                "required": ["date-parts"],
                "additionalProperties": False,
                "properties": {
                    "date-parts": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 2,
                        "items": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 3,
                            "items": {"type": ["integer", "string"]},
                        },
                    }
                },
            },
        },
        "additionalProperties": False,
    },
}

# The rules of CITATION.cff 1.2.0 (citation-file-format/schema.json) for the keys we write.
CFF_PERSON = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        k: {"type": "string", "minLength": 1}
        for k in ("family-names", "given-names", "affiliation", "email", "website")
    },
}
CFF_ENTITY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {k: {"type": "string", "minLength": 1} for k in ("name", "email", "website")},
}
CFF_SCHEMA = {
    "type": "object",
    "required": ["authors", "cff-version", "message", "title"],
    "additionalProperties": False,
    "properties": {
        "cff-version": {"const": "1.2.0"},
        "message": {"type": "string", "minLength": 1},
        "type": {"enum": ["dataset", "software"]},
        "title": {"type": "string", "minLength": 1},
        "version": {"type": ["string", "number"], "minLength": 1},
        "date-released": {
            "type": "string",
            "pattern": "^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])$",
        },
        "url": {"type": "string", "pattern": "^(https|http|ftp|sftp)://.+"},
        "license": {"type": "string", "enum": ["CC-BY-4.0", "CC0-1.0", "ODbL-1.0"]},
        "abstract": {"type": "string", "minLength": 1},
        "keywords": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "authors": {"type": "array", "minItems": 1, "items": {"anyOf": [CFF_PERSON, CFF_ENTITY]}},
        "contact": {"type": "array", "minItems": 1, "items": {"anyOf": [CFF_PERSON, CFF_ENTITY]}},
        "identifiers": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["type", "value"],
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["doi", "url", "swh", "other"]},
                    "value": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
    },
}
