"""Releases as a first-class feature: the release list, reports, zips, citations and licences.

Every expectation is read from the released folders (descriptor, data files, CHANGELOG.md); each
artefact is read back by the tool its users have: frictionless for the report and the zip,
bibtexparser, rispy, the CSL-JSON and CFF rules for the citations.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import bibtexparser
import frictionless
import httpx
import jsonschema
import pytest
import rispy
import yaml
from openpyxl import load_workbook

from tests.builders import field, write_release, write_schema_file_releases
from tests.conformance import CFF_SCHEMA, CSL_ITEM_SCHEMA
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP, MakeDatabase, serving
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio

VERSIONS = ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.3.1")
LATEST = VERSIONS[-1]
PACKAGE_URL = f"{BASE_URL}/v1/datasets/{FLAGSHIP}"
PREFIX = f"/v1/datasets/{FLAGSHIP}"
IMMUTABLE = "public, max-age=31536000, immutable"


# --- the released files -------------------------------------------------------------------------


@cache
def descriptor(version: str) -> dict[str, Any]:
    """The release's own datapackage.json."""
    return dict(json.loads((DATASETS / FLAGSHIP / version / "datapackage.json").read_bytes()))


def resource_names(version: str) -> list[str]:
    return [r["name"] for r in descriptor(version)["resources"]]


@cache
def published(version: str, resource: str) -> bytes:
    """The published file of a resource, byte for byte."""
    return (DATASETS / FLAGSHIP / version / "data" / f"{resource}.csv").read_bytes()


def line_count(version: str, resource: str) -> int:
    """Data lines of the published file (every record of these files is one line)."""
    data = published(version, resource)
    records = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert data.endswith(b"\n") and data.count(b"\n") == records
    return records - 1


@cache
def changelog() -> dict[str, tuple[str, str]]:
    """version -> (date, first line of its entry), from the package's CHANGELOG.md."""
    text = (DATASETS / FLAGSHIP / "CHANGELOG.md").read_text(encoding="utf-8")
    found = re.findall(r"^## (\S+) - (\d{4}-\d{2}-\d{2})\n\n(.+)$", text, flags=re.MULTILINE)
    return {version: (day, line) for version, day, line in found}


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def frictionless_cli(path: Path) -> dict[str, Any]:
    """`frictionless validate --json <path>` as a user runs it; the report it prints."""
    command = [sys.executable, "-m", "frictionless", "validate", "--json", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


# --- the release list ---------------------------------------------------------------------------


def expected_release(version: str, previous: str | None, loaded_at: str) -> dict[str, Any]:
    prefix = f"{PACKAGE_URL}/{version}"
    day, entry = changelog()[version]
    rows = {name: line_count(version, name) for name in resource_names(version)}
    return {
        "version": version,
        "published": day,
        "loaded_at": loaded_at,
        "changelog": entry,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "links": {
            "self": prefix,
            "datapackage": f"{prefix}/datapackage.json",
            "validation": f"{prefix}/validation.json",
            "zip": f"{prefix}.zip",
            "citation": f"{prefix}/citation?format=apa",
            "resources": {name: f"{prefix}/{name}" for name in resource_names(version)},
        },
        "diff_from_previous": (
            f"{PACKAGE_URL}/diff?from={previous}&to={version}" if previous else None
        ),
    }


async def test_release_list_newest_first_whole_body(client: httpx.AsyncClient) -> None:
    response = await client.get(PREFIX)
    assert (response.status_code, media_type(response)) == (200, "application/json")
    body = response.json()
    loaded = {r["version"]: r["loaded_at"] for r in body["releases"]}
    assert all(datetime.fromisoformat(stamp).tzinfo is not None for stamp in loaded.values())
    latest = descriptor(LATEST)
    previous = dict(zip(VERSIONS[1:], VERSIONS[:-1], strict=True))
    assert body == {
        "name": FLAGSHIP,
        "title": latest["title"],
        "description": latest["description"],
        "latest_version": LATEST,
        "licenses": latest["licenses"],
        "keywords": latest["keywords"],
        "releases": [expected_release(v, previous.get(v), loaded[v]) for v in reversed(VERSIONS)],
        "links": {
            "self": PACKAGE_URL,
            "latest": f"{PACKAGE_URL}/latest",
            "page": f"{BASE_URL}/datasets/{FLAGSHIP}",
        },
    }


async def test_release_links_answer(client: httpx.AsyncClient) -> None:
    for release in (await client.get(PREFIX)).json()["releases"]:
        links = release["links"]
        for url in (
            links["self"],
            links["datapackage"],
            links["validation"],
            links["zip"],
            links["citation"],
            *links["resources"].values(),
        ):
            response = await client.get(url, follow_redirects=True)
            assert response.status_code == 200, url


@pytest.mark.parametrize(
    ("version", "successor"),
    [
        ("1.0.0", "1.1.0"),
        ("1.1.0", "1.2.0"),
        ("1.2.0", "1.3.0"),
        ("1.3.0", "1.3.1"),
        ("1.3.1", None),
    ],
)
async def test_old_releases_name_their_successor(
    client: httpx.AsyncClient, version: str, successor: str | None
) -> None:
    response = await client.get(f"{PREFIX}/{version}/datapackage.json")
    links = [
        f'<{PACKAGE_URL}/{version}/datapackage.json>; rel="describedby"; type="application/json"',
        f'<{PACKAGE_URL}/{version}>; rel="cite-as"',
        '<https://creativecommons.org/licenses/by/4.0/>; rel="license"',
    ]
    if successor:
        links.append(f'<{PACKAGE_URL}/{successor}>; rel="successor-version"')
        following = await client.get(f"{PACKAGE_URL}/{successor}", follow_redirects=True)
        assert following.json()["version"] == successor
    assert response.headers["link"] == ", ".join(links)


# --- validation.json ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_validation_report_is_the_stored_frictionless_report(
    client: httpx.AsyncClient, version: str
) -> None:
    response = await client.get(f"{PREFIX}/{version}/validation.json")
    assert (response.status_code, media_type(response)) == (200, "application/json")
    report = response.json()
    names = resource_names(version)
    assert (report["valid"], report["errors"], report["warnings"]) == (True, [], [])
    assert (report["stats"]["tasks"], report["stats"]["errors"]) == (len(names), 0)
    fields = {
        r["name"]: [f["name"] for f in r["schema"]["fields"]]
        for r in descriptor(version)["resources"]
    }
    assert [
        (
            t["name"],
            t["type"],
            t["valid"],
            t["place"],
            t["labels"],
            t["stats"]["rows"],
            t["stats"]["bytes"],
            t["stats"]["sha256"],
            t["stats"]["errors"],
        )
        for t in report["tasks"]
    ] == [
        (
            name,
            "table",
            True,
            f"data/{name}.csv",
            fields[name],
            line_count(version, name),
            len(published(version, name)),
            hashlib.sha256(published(version, name)).hexdigest(),
            0,
        )
        for name in names
    ]


async def test_validation_report_reads_back_as_a_frictionless_report(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(f"{PREFIX}/1.0.0/validation.json")).json()
    report = frictionless.Report.from_descriptor(body)
    assert report.valid
    assert report.flatten(["taskNumber", "rowNumber", "fieldName", "type"]) == []


# --- the zip ------------------------------------------------------------------------------------


async def test_release_zip_is_a_valid_frictionless_package(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    version = "1.1.0"
    response = await client.get(f"{PREFIX}/{version}.zip")
    assert (response.status_code, media_type(response)) == (200, "application/zip")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{FLAGSHIP}-{version}.zip"'
    )
    path = tmp_path / f"{FLAGSHIP}-{version}.zip"
    path.write_bytes(response.content)
    expected = [
        (name, line_count(version, name), hashlib.sha256(published(version, name)).hexdigest())
        for name in resource_names(version)
    ]
    report = frictionless_cli(path)
    assert report["valid"], report
    assert [(t["name"], t["stats"]["rows"], t["stats"]["sha256"]) for t in report["tasks"]] == (
        expected
    )
    in_process = frictionless.Package(str(path)).validate()
    assert in_process.flatten(["taskNumber", "rowNumber", "fieldName", "type"]) == []
    assert in_process.valid


async def test_release_zip_holds_the_published_files_and_a_readme(
    client: httpx.AsyncClient,
) -> None:
    version = "1.1.0"
    archive = zipfile.ZipFile(io.BytesIO((await client.get(f"{PREFIX}/{version}.zip")).content))
    names = resource_names(version)
    assert archive.namelist() == [
        "datapackage.json",
        "README.md",
        *(f"data/{name}.csv" for name in names),
    ]
    packaged = json.loads(archive.read("datapackage.json"))
    assert packaged == descriptor(version)
    assert [r["path"] for r in packaged["resources"]] == [f"data/{name}.csv" for name in names]
    for name in names:
        assert archive.read(f"data/{name}.csv") == published(version, name), name
    readme = archive.read("README.md").decode("utf-8").splitlines()
    citation = (await client.get(f"{PREFIX}/{version}/citation", params={"format": "apa"})).text
    assert readme[0] == f"# {descriptor(version)['title']}"
    for line in (
        f"Version: {version}",
        "Licence: Creative Commons Attribution 4.0",
        citation.strip(),
    ):
        assert line in readme, line


async def test_release_zip_is_the_same_bytes_on_every_download(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get(f"{PREFIX}/1.0.0.zip")
    second = await client.get(f"{PREFIX}/1.0.0.zip")
    # No clock in the members: every header carries the same fixed date, whenever it is built.
    members = zipfile.ZipFile(io.BytesIO(first.content)).infolist()
    assert {m.date_time for m in members} == {(1980, 1, 1, 0, 0, 0)}
    assert first.headers["etag"] == second.headers["etag"]
    assert hashlib.sha256(first.content).hexdigest() == hashlib.sha256(second.content).hexdigest()


# --- citations ----------------------------------------------------------------------------------


def _apa(text: str) -> tuple[str, str]:
    found = re.fullmatch(r".+ \(\d{4}\)\. \*.+\* \(Version (\S+)\) \[Data set\]\. (\S+)\n?", text)
    assert found, text
    return found[2], found[1]


def _bibtex(text: str) -> tuple[str, str]:
    (entry,) = bibtexparser.loads(text).entries
    assert entry["ENTRYTYPE"] == "misc"
    assert entry["howpublished"] == f"\\url{{{entry['url']}}}"
    return entry["url"], entry["version"]


def _ris(text: str) -> tuple[str, str]:
    (record,) = rispy.loads(text)
    assert record["type_of_reference"] == "DATA"
    (url,) = record["urls"]
    return url, record["edition"]


def _csl(text: str) -> tuple[str, str]:
    items = json.loads(text)
    assert list(jsonschema.Draft7Validator(CSL_ITEM_SCHEMA).iter_errors(items)) == []
    (item,) = items
    return item["URL"], item["version"]


def _cff(text: str) -> tuple[str, str]:
    document = yaml.safe_load(text)
    assert list(jsonschema.Draft7Validator(CFF_SCHEMA).iter_errors(document)) == []
    assert [i["value"] for i in document["identifiers"]] == [document["url"]]
    return document["url"], document["version"]


CITATIONS = [
    ("apa", "text/plain", _apa),
    ("bibtex", "application/x-bibtex", _bibtex),
    ("ris", "application/x-research-info-systems", _ris),
    ("csl-json", "application/vnd.citationstyles.csl+json", _csl),
    ("cff", "application/yaml", _cff),
]


@pytest.mark.parametrize(("fmt", "expected_type", "read"), CITATIONS, ids=[c[0] for c in CITATIONS])
@pytest.mark.parametrize(("requested", "version"), [("1.1.0", "1.1.0"), ("latest", LATEST)])
async def test_citation_parses_and_names_the_pinned_release(
    client: httpx.AsyncClient,
    fmt: str,
    expected_type: str,
    read: Any,
    requested: str,
    version: str,
) -> None:
    response = await client.get(f"{PREFIX}/{requested}/citation", params={"format": fmt})
    assert (response.status_code, media_type(response)) == (200, expected_type)
    assert read(response.text) == (f"{PACKAGE_URL}/{version}/datapackage.json", version)
    assert response.headers["x-dataset-version"] == version


async def test_unknown_citation_format_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/1.1.0/citation", params={"format": "mla"})
    message = "unknown citation format 'mla'; expected one of apa, bibtex, ris, csl-json, cff"
    assert (response.status_code, media_type(response)) == (400, "application/problem+json")
    assert problem_body(response) == {
        "type": "/problems/bad-query",
        "title": "Bad query",
        "status": 400,
        "detail": f"1 problem(s) in the query: format: {message}",
        "instance": f"{PREFIX}/1.1.0/citation",
        "errors": [{"param": "format", "code": "invalid-control", "message": message}],
    }


# --- caching of pinned resources ----------------------------------------------------------------

PINNED = [
    f"{PREFIX}/1.0.0/datapackage.json",
    f"{PREFIX}/1.0.0/validation.json",
    f"{PREFIX}/1.1.0.zip",
    f"{PREFIX}/1.1.0/citation?format=bibtex",
    f"{PREFIX}/1.2.0/citation?format=cff",
]


@pytest.mark.parametrize("path", PINNED)
async def test_pinned_release_resources_answer_304(client: httpx.AsyncClient, path: str) -> None:
    first = await client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.headers["cache-control"] == IMMUTABLE
    again = await client.get(path, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = await client.get(path, headers={"If-None-Match": '"not-this-one"'})
    assert (other.status_code, other.headers["etag"]) == (200, etag)


async def test_served_descriptors_keep_every_source(client: httpx.AsyncClient) -> None:
    """Sources survive serving: relative ones point at the served file, the root repeats them."""
    own = descriptor(LATEST)["sources"]
    served = (await client.get(f"{PREFIX}/{LATEST}/datapackage.json")).json()
    reports_url = f"{PACKAGE_URL}/{LATEST}/reports.csv"
    expected = [
        {**s, "path": reports_url} if s.get("path") == "data/reports.csv" else s for s in own
    ]
    assert served["sources"] == expected
    assert any(s["path"] == reports_url for s in served["sources"])
    assert (await client.get(reports_url.removeprefix(BASE_URL))).status_code == 200
    root = (await client.get("/datapackage.json")).json()
    flagship = [r for r in root["resources"] if r["name"].startswith(f"{FLAGSHIP}.")]
    assert len(flagship) == len(resource_names(LATEST))
    assert all(r["sources"] == expected for r in flagship)


# A release whose schema is a file of its own is served with the schema inline ----------------


@pytest.fixture
async def schema_file_client(
    tmp_path: Path, make_database: MakeDatabase, backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    write_schema_file_releases(tmp_path / "datasets")
    async with serving(make_database(backend), tmp_path / "datasets") as client:
        yield client


async def test_served_descriptor_holds_the_schema_inline(
    schema_file_client: httpx.AsyncClient,
) -> None:
    served = (await schema_file_client.get("/v1/datasets/split/1.0.1/datapackage.json")).json()
    schema = served["resources"][1]["schema"]
    assert schema["foreignKeys"][0]["reference"] == {"resource": "parents", "fields": ["code"]}


# A licence given only by its URL is named by that URL wherever a person reads it --------------


TERMS = "https://example.org/terms-of-use"
TERMS_SCHEMA: dict[str, Any] = {"fields": [field("id", "integer")], "primaryKey": ["id"]}
TERMS_RELEASE = "/v1/datasets/terms-only/1.0.0"


@pytest.fixture
async def terms_only(
    tmp_path: Path, make_database: MakeDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    datasets = tmp_path / "datasets"
    write_release(
        datasets,
        "terms-only",
        "1.0.0",
        {"items": (TERMS_SCHEMA, "id\n1\n")},
        licenses=[{"path": TERMS}],
    )
    async with serving(make_database("sqlite"), datasets) as client:
        yield client


async def test_path_only_licence_is_named_by_its_url(terms_only: httpx.AsyncClient) -> None:
    workbook = await terms_only.get(f"{TERMS_RELEASE}/items.xlsx")
    about = dict(load_workbook(io.BytesIO(workbook.content))["about"].iter_rows(values_only=True))
    assert about["licence"] == TERMS
    assert workbook.headers["x-license"] == TERMS
    assert f'<{TERMS}>; rel="license"' in workbook.headers["link"]

    archive = zipfile.ZipFile(io.BytesIO((await terms_only.get(f"{TERMS_RELEASE}.zip")).content))
    readme = archive.read("README.md").decode("utf-8")
    assert f"Licence: {TERMS}" in readme

    page = (await terms_only.get("/datasets/terms-only")).text
    assert f'<a href="{TERMS}">{TERMS}</a>' in page
    for text in (readme, page, str(about["licence"])):
        assert "None" not in text
