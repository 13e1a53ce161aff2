"""Metadata that data portals harvest, read over real HTTP by the tools portals use.

A uvicorn server serves the flagship database on 127.0.0.1 (on SQLite and on PostgreSQL), and
each format is read back by its own client: the frictionless CLI and library, rdflib and pyshacl
with the official DCAT-AP 3.0.1 shapes, jsonschema with the DCAT-US 1.1 schemas, ckanapi and the
CKAN harvester's paging loop, an HTML parser for schema.org, xml.etree for the sitemap.
Expectations come from the released files under ``datasets/``, never from the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import ckanapi
import frictionless
import httpx
import pytest
from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.term import Node

from api.db.engine import writer_engine
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from api.metadata.vocab import DCAT, DCT, HYDRA, OWL
from tests.conformance import (
    NF_CATALOG_REFS,
    SDO,
    VOCAB_STUB,
    dcat_graph,
    dcat_us_validator,
    failed_paths,
    schema_errors,
    schemaorg_graph,
    shacl_validate,
)
from tests.helpers import DATASETS, FLAGSHIP, MakeDatabase
from tests.live import LiveServer, live_server
from tests.problem_body import problem_body

pytestmark = pytest.mark.slow

LATEST, VERSIONS = "1.3.1", ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.3.1")
FIXTURES = DATASETS.parent / "tests" / "fixtures" / "datasets"
PROBLEM = "application/problem+json"
RDF_TYPES = {
    "jsonld": ("application/ld+json", "json-ld"),
    "ttl": ("text/turtle", "turtle"),
    "rdf": ("application/rdf+xml", "xml"),
}


# --- the released files -------------------------------------------------------------------------


@cache
def descriptor(version: str = LATEST) -> dict[str, Any]:
    """The release's own datapackage.json."""
    return dict(json.loads((DATASETS / FLAGSHIP / version / "datapackage.json").read_bytes()))


def resource_names(version: str = LATEST) -> list[str]:
    return [r["name"] for r in descriptor(version)["resources"]]


@cache
def published(version: str, resource: str) -> bytes:
    """The published file of a resource, byte for byte."""
    return (DATASETS / FLAGSHIP / version / "data" / f"{resource}.csv").read_bytes()


def row_count(version: str, resource: str) -> int:
    """Data rows of the published file (records after the header)."""
    text = published(version, resource).decode("utf-8")
    return sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


# --- servers and clients ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live(flagship_url: str) -> Iterator[LiveServer]:
    """The flagship database served over HTTP (one server per backend)."""
    with live_server(flagship_url) as server:
        yield server


@pytest.fixture(scope="session")
def two_packages(backend: str, make_database: MakeDatabase) -> Iterator[LiveServer]:
    """A second database: the flagship plus the small `other` package, to page through."""
    url = make_database(backend)
    engine = writer_engine(url)
    refs = find_releases(DATASETS, [DATASETS / FLAGSHIP, FIXTURES / "other"])
    summary = ReleaseLoader(engine, quiet=True).load_all(refs)
    engine.dispose()
    assert summary.ok, (summary.refused, summary.conflicts)
    with live_server(url) as server:
        yield server


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("network access while parsing")


def parse_offline(monkeypatch: pytest.MonkeyPatch, text: str | bytes, fmt: str) -> Graph:
    """Parse RDF with every outgoing socket connection refused."""
    with monkeypatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        return Graph().parse(data=text, format=fmt)


# --- 1. Frictionless ----------------------------------------------------------------------------

DESCRIPTORS = [
    "/datapackage.json",
    *(f"/v1/datasets/{FLAGSHIP}/{v}/datapackage.json" for v in (LATEST, "1.0.0")),
]


def expected_tasks(path: str, base: str) -> list[tuple[str, str, int, int, str]]:
    """(name, place, rows, bytes, sha256) of every resource a descriptor URL must validate."""
    version = LATEST if path == "/datapackage.json" else path.split("/")[4]
    prefix = f"{FLAGSHIP}." if path == "/datapackage.json" else ""
    return [
        (
            f"{prefix}{name}",
            f"{base}/v1/datasets/{FLAGSHIP}/{version}/{name}.csv",
            row_count(version, name),
            len(published(version, name)),
            hashlib.sha256(published(version, name)).hexdigest(),
        )
        for name in resource_names(version)
    ]


@pytest.mark.parametrize("path", DESCRIPTORS)
def test_frictionless_cli_validates_the_served_descriptor(live: LiveServer, path: str) -> None:
    command = [sys.executable, "-m", "frictionless", "validate", "--json", f"{live.url}{path}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["valid"], report["errors"]) == (True, [])
    assert [
        (t["name"], t["place"], t["stats"]["rows"], t["stats"]["bytes"], t["stats"]["sha256"])
        for t in report["tasks"]
    ] == expected_tasks(path, live.url)
    assert all(t["valid"] and t["errors"] == [] for t in report["tasks"])


@pytest.mark.parametrize("path", DESCRIPTORS)
def test_frictionless_library_validates_the_served_descriptor(
    live: LiveServer, http: httpx.Client, path: str
) -> None:
    served = http.get(path).json()
    for resource, (_, place, _, size, digest) in zip(
        served["resources"], expected_tasks(path, live.url), strict=True
    ):
        assert (resource["path"], resource["bytes"], resource["hash"]) == (
            place,
            size,
            f"sha256:{digest}",
        )
    report = frictionless.Package(f"{live.url}{path}").validate()
    assert report.flatten(["taskNumber", "rowNumber", "fieldName", "type"]) == []
    assert report.valid
    assert [t.stats["sha256"] for t in report.tasks] == [
        task[4] for task in expected_tasks(path, live.url)
    ]


# --- 2. DCAT-AP 3 -------------------------------------------------------------------------------


def catalog_graph(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch, ext: str = "ttl", **params: str
) -> Graph:
    response = http.get(f"/catalog.{ext}", params=params)
    assert response.status_code == 200, response.text
    return parse_offline(monkeypatch, response.content, RDF_TYPES[ext][1])


def format_neutral(graph: Graph, ext: str) -> Graph:
    """`graph` with its Hydra page links (which name their own serialization) made neutral."""
    own = f"/catalog.{ext}"

    def neutral(term: Any) -> Any:
        if isinstance(term, URIRef) and own in term:
            return URIRef(term.replace(own, "/catalog"))
        if isinstance(term, Literal) and own in term:
            return Literal(str(term).replace(own, "/catalog"), datatype=term.datatype)
        return term

    found = Graph()
    for triple in graph:
        found.add((neutral(triple[0]), neutral(triple[1]), neutral(triple[2])))
    return found


def test_catalog_serializations_are_typed_exactly_and_isomorphic(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graphs = {}
    for ext, (expected_type, rdf_format) in RDF_TYPES.items():
        response = http.get(f"/catalog.{ext}")
        assert (response.status_code, media_type(response)) == (200, expected_type)
        # Only a UTF-8 charset may qualify the type (Turtle is UTF-8 by definition).
        charset = f"{expected_type}; charset=utf-8"
        assert response.headers["content-type"] in (expected_type, charset)
        graph = parse_offline(monkeypatch, response.content, rdf_format)
        view = graph.value(URIRef(f"{live.url}/catalog"), HYDRA.view)
        assert view == URIRef(f"{live.url}/catalog.{ext}?page=1&page_size=100")
        graphs[ext] = format_neutral(graph, ext)
    context = http.get("/catalog.jsonld").json()["@context"]
    assert isinstance(context, dict) and all(isinstance(v, str) for v in context.values())
    assert len(graphs["jsonld"]) > 100
    assert isomorphic(graphs["jsonld"], graphs["ttl"])
    assert isomorphic(graphs["jsonld"], graphs["rdf"])


def test_served_catalog_conforms_to_dcat_ap_3(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = catalog_graph(http, monkeypatch)
    conforms, report = shacl_validate(graph + dcat_graph(VOCAB_STUB))
    assert conforms, report.serialize(format="turtle")


def test_dropping_the_dataset_description_breaks_conformance(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = catalog_graph(http, monkeypatch)
    dataset = URIRef(f"{live.url}/v1/datasets/{FLAGSHIP}")
    assert (dataset, DCT.description, None) in graph
    graph.remove((dataset, DCT.description, None))
    conforms, report = shacl_validate(graph + dcat_graph(VOCAB_STUB))
    assert not conforms
    assert failed_paths(report) == {DCT.description}


def test_one_stable_dataset_whose_distributions_are_pinned_to_the_latest_release(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = catalog_graph(http, monkeypatch)
    dataset = URIRef(f"{live.url}/v1/datasets/{FLAGSHIP}")
    release = f"{live.url}/v1/datasets/{FLAGSHIP}/{LATEST}"
    assert set(graph.subjects(RDF.type, DCAT.Dataset)) == {dataset}
    assert set(graph.objects(URIRef(f"{live.url}/catalog"), DCAT.dataset)) == {dataset}
    assert (graph.value(dataset, DCAT.version), graph.value(dataset, OWL.versionInfo)) == (
        Literal(LATEST),
        Literal(LATEST),
    )
    distributions = set(graph.objects(dataset, DCAT.distribution))
    expected = {URIRef(f"{release}#zip")} | {
        URIRef(f"{release}#{name}-{fmt}") for name in resource_names() for fmt in ("csv", "json")
    }
    assert distributions == expected
    downloads = {
        str(d): str(graph.value(d, DCAT.downloadURL))
        for d in distributions
        if graph.value(d, DCAT.downloadURL) is not None
    }
    assert downloads == {f"{release}#zip": f"{release}.zip"} | {
        f"{release}#{name}-csv": f"{release}/{name}.csv" for name in resource_names()
    }
    for name in resource_names():
        node = URIRef(f"{release}#{name}-csv")
        size = Literal(len(published(LATEST, name)), datatype=XSD.nonNegativeInteger)
        assert graph.value(node, DCAT.byteSize) == size
        response = http.get(f"{release}/{name}.csv")
        assert (response.status_code, response.content) == (200, published(LATEST, name))
    links = {
        str(o)
        for p in (DCAT.accessURL, DCAT.downloadURL, DCAT.landingPage)
        for o in graph.objects(None, p)
    }
    assert len(links) == 2 * len(resource_names()) + 2
    for url in sorted(links):
        assert http.get(url).status_code == 200, url


def test_earlier_releases_are_linked_not_catalogued(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = catalog_graph(http, monkeypatch)
    iri = f"{live.url}/v1/datasets/{FLAGSHIP}"
    chain = set(graph.subject_objects(DCAT.previousVersion))
    assert chain == {
        (URIRef(iri), URIRef(f"{iri}/1.3.0")),
        (URIRef(f"{iri}/1.3.1"), URIRef(f"{iri}/1.3.0")),
        (URIRef(f"{iri}/1.3.0"), URIRef(f"{iri}/1.2.0")),
        (URIRef(f"{iri}/1.2.0"), URIRef(f"{iri}/1.1.0")),
        (URIRef(f"{iri}/1.1.0"), URIRef(f"{iri}/1.0.0")),
    }
    for version in VERSIONS:
        assert (URIRef(f"{iri}/{version}"), RDF.type, None) not in graph
        assert graph.value(URIRef(f"{iri}/{version}"), DCAT.version) == Literal(version)


def test_hydra_pages_through_two_packages(
    two_packages: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = URIRef(f"{two_packages.url}/catalog")
    seen: list[Node] = []
    url: str | None = f"{two_packages.url}/catalog.ttl?page_size=1"
    pages = []
    with httpx.Client(timeout=60) as http:
        while url is not None:
            response = http.get(url)
            assert response.status_code == 200, response.text
            graph = parse_offline(monkeypatch, response.content, "turtle")
            view = graph.value(catalog, HYDRA.view)
            assert graph.value(view, HYDRA.itemsPerPage) == Literal(1)
            assert graph.value(catalog, HYDRA.totalItems) == Literal(2)
            seen += list(graph.objects(catalog, DCAT.dataset))
            following = graph.value(view, HYDRA.next)
            pages.append((str(view), str(following) if following else None))
            url = str(following) if following is not None else None
    first = f"{two_packages.url}/catalog.ttl?page=1&page_size=1"
    second = f"{two_packages.url}/catalog.ttl?page=2&page_size=1"
    assert pages == [(first, second), (second, None)]
    assert sorted(map(str, seen)) == [
        f"{two_packages.url}/v1/datasets/{name}" for name in sorted([FLAGSHIP, "other"])
    ]


def test_modified_since_the_future_lists_no_dataset(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = catalog_graph(http, monkeypatch, "jsonld", modified_since="2999-01-01T00:00:00Z")
    catalog = URIRef(f"{live.url}/catalog")
    assert set(graph.subjects(RDF.type, DCAT.Dataset)) == set()
    assert list(graph.objects(catalog, DCAT.dataset)) == []
    assert graph.value(catalog, HYDRA.totalItems) == Literal(0)


def test_a_bad_modified_since_is_a_problem(http: httpx.Client) -> None:
    response = http.get("/catalog.jsonld", params={"modified_since": "last tuesday"})
    message = "modified_since must be an ISO 8601 date or date-time; got 'last tuesday'"
    assert (response.status_code, media_type(response)) == (400, PROBLEM)
    assert problem_body(response) == {
        "type": "/problems/bad-query",
        "title": "Bad query",
        "status": 400,
        "detail": f"1 problem(s) in the query: modified_since: {message}",
        "instance": "/catalog.jsonld",
        "errors": [{"param": "modified_since", "code": "invalid-value", "message": message}],
    }


# --- 3. DCAT-US ---------------------------------------------------------------------------------


def test_data_json_validates_against_the_dcat_us_schemas(
    live: LiveServer, http: httpx.Client
) -> None:
    response = http.get("/data.json")
    assert (response.status_code, media_type(response)) == (200, "application/json")
    body = response.json()
    catalog = dcat_us_validator("nf-catalog.json", refs=NF_CATALOG_REFS)
    assert schema_errors(catalog, body) == []
    dataset = dcat_us_validator("nf-dataset-non-federal.json", refs={})
    assert [schema_errors(dataset, entry) for entry in body["dataset"]] == [[]]
    entry = body["dataset"][0]
    release = f"{live.url}/v1/datasets/{FLAGSHIP}/{LATEST}"
    assert (entry["identifier"], entry["describedBy"]) == (
        f"{live.url}/v1/datasets/{FLAGSHIP}",
        f"{release}/datapackage.json",
    )
    assert [d["downloadURL"] for d in entry["distribution"] if "downloadURL" in d] == [
        *(f"{release}/{name}.csv" for name in resource_names()),
        f"{release}.zip",
    ]


# --- 4. CKAN ------------------------------------------------------------------------------------


@pytest.fixture
def ckan(live: LiveServer) -> Iterator[ckanapi.RemoteCKAN]:
    with ckanapi.RemoteCKAN(live.url, user_agent="opendata-tests") as remote:
        yield remote


def test_ckan_status_and_package_list(ckan: ckanapi.RemoteCKAN) -> None:
    assert ckan.action.status_show() == {
        "ckan_version": "2.10.4",
        "site_title": "Open data API",
        "site_description": "Validated, versioned and citable open data packages.",
        "locale_default": "en",
        "extensions": ["dcat", "datapackage"],
    }
    assert ckan.action.package_list() == [FLAGSHIP]


def test_ckan_package_show(live: LiveServer, ckan: ckanapi.RemoteCKAN) -> None:
    package = ckan.action.package_show(id=FLAGSHIP)
    latest = descriptor()
    release = f"{live.url}/v1/datasets/{FLAGSHIP}/{LATEST}"
    assert re.fullmatch(r"[a-z0-9_-]{2,100}", package["name"])
    assert {k: package[k] for k in ("name", "title", "notes", "version", "license_id", "url")} == {
        "name": FLAGSHIP,
        "title": latest["title"],
        "notes": latest["description"],
        "version": LATEST,
        "license_id": "cc-by",
        "url": f"{live.url}/datasets/{FLAGSHIP}",
    }
    assert [t["name"] for t in package["tags"]] == latest["keywords"]
    assert [(r["url"], r["format"], r["size"], r["hash"]) for r in package["resources"]] == [
        *(
            (
                f"{release}/{name}.csv",
                "CSV",
                len(published(LATEST, name)),
                "sha256:" + hashlib.sha256(published(LATEST, name)).hexdigest(),
            )
            for name in resource_names()
        ),
        (f"{release}.zip", "ZIP", None, ""),
    ]
    assert package["num_resources"] == len(package["resources"])
    csv_url = package["resources"][resource_names().index("figures")]["url"]
    response = httpx.get(csv_url, timeout=60)
    assert (response.status_code, media_type(response)) == (200, "text/csv")
    assert response.content == published(LATEST, "figures")
    for url in [package["url"], *(r["url"] for r in package["resources"])]:
        assert httpx.get(url, timeout=60).status_code == 200, url


def test_ckan_package_search(ckan: ckanapi.RemoteCKAN) -> None:
    result = ckan.action.package_search(
        q="Cambodia",
        fq="metadata_modified:[2020-01-01T00:00:00Z TO *]",
        rows=10,
        start=0,
        sort="id asc",
    )
    assert result == {
        "count": 1,
        "facets": {},
        "search_facets": {},
        "sort": "id asc",
        "results": [ckan.action.package_show(id=FLAGSHIP)],
    }
    assert ckan.action.package_search(q="Cambodia", rows=10, start=1)["results"] == []
    assert ckan.action.package_search(q="no-such-word-anywhere")["count"] == 0


def harvest(base_url: str, rows: int) -> tuple[list[dict[str, Any]], int]:
    """The CKAN harvester's gather loop: pages sorted by id until an empty page; (dicts, calls)."""
    params = {
        "rows": str(rows),
        "start": "0",
        "sort": "id asc",
        "fq": "metadata_modified:[2020-01-01T00:00:00Z TO *]",
    }
    found: list[dict[str, Any]] = []
    previous: bytes | None = None
    calls = 0
    with httpx.Client(timeout=60) as http:
        while True:
            response = http.get(f"{base_url}/api/3/action/package_search?{urlencode(params)}")
            calls += 1
            assert response.status_code == 200, response.text
            assert response.content != previous, "the paging does not seem to work"
            previous = response.content
            page = response.json()["result"]["results"]
            if not page:
                return found, calls
            found += page
            params["start"] = str(int(params["start"]) + rows)


@pytest.mark.parametrize("rows", [100, 1])
def test_the_ckan_harvester_collects_every_package_once(
    two_packages: LiveServer, rows: int
) -> None:
    packages, calls = harvest(two_packages.url, rows)
    assert Counter(p["name"] for p in packages) == Counter({FLAGSHIP: 1, "other": 1})
    assert len({p["id"] for p in packages}) == 2
    assert calls == (2 if rows == 100 else 3)


def test_ckan_errors_are_raised_by_the_client(ckan: ckanapi.RemoteCKAN) -> None:
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="nope")
    with pytest.raises(ckanapi.ValidationError) as caught:
        ckan.action.package_search(fq="colour:red")
    assert list(caught.value.error_dict) == ["__type", "fq"]


@pytest.mark.parametrize("prefix", ["/api/3/action", "/api/action"])
def test_ckan_envelope_over_get(live: LiveServer, http: httpx.Client, prefix: str) -> None:
    shown = http.get(f"{prefix}/package_show", params={"id": FLAGSHIP})
    with ckanapi.RemoteCKAN(live.url, get_only=True) as remote:
        result = remote.action.package_show(id=FLAGSHIP)
    assert (shown.status_code, media_type(shown)) == (200, "application/json")
    assert shown.json() == {
        "help": f"{live.url}/api/3/action/help_show?name=package_show",
        "success": True,
        "result": result,
    }
    missing = http.get(f"{prefix}/package_show", params={"id": "nope"})
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "help": f"{live.url}/api/3/action/help_show?name=package_show",
            "success": False,
            "error": {"__type": "Not Found Error", "message": "Not found"},
        },
    )


CKAN_BAD_REQUESTS = [
    (
        "post-not-json",
        {"content": b"not json", "headers": {"Content-Type": "application/json"}},
        "package_search",
        400,
        {"__type": "Bad request", "message": "Bad request - JSON Error: expected a JSON object"},
    ),
    (
        "post-json-array",
        {"json": [1, 2]},
        "package_search",
        400,
        {"__type": "Bad request", "message": "Bad request - JSON Error: expected a JSON object"},
    ),
    (
        "fq-not-a-string",
        {"json": {"fq": 5}},
        "package_search",
        409,
        {"__type": "Validation Error", "fq": ["Must be a string"]},
    ),
    (
        "sort-not-a-string",
        {"json": {"sort": 5}},
        "package_search",
        409,
        {"__type": "Validation Error", "sort": ["Must be a string"]},
    ),
    (
        "negative-limit",
        {"json": {"limit": -1}},
        "package_list",
        409,
        {"__type": "Validation Error", "limit": ["Must be a natural number"]},
    ),
    (
        "negative-offset",
        {"json": {"offset": -1}},
        "package_list",
        409,
        {"__type": "Validation Error", "offset": ["Must be a natural number"]},
    ),
]


@pytest.mark.parametrize(
    ("sent", "action", "status", "error"),
    [case[1:] for case in CKAN_BAD_REQUESTS],
    ids=[case[0] for case in CKAN_BAD_REQUESTS],
)
def test_ckan_bad_requests_are_ckan_errors(
    live: LiveServer,
    http: httpx.Client,
    sent: dict[str, Any],
    action: str,
    status: int,
    error: dict[str, Any],
) -> None:
    response = http.post(f"/api/3/action/{action}", **sent)
    assert (response.status_code, response.json()) == (
        status,
        {
            "help": f"{live.url}/api/3/action/help_show?name={action}",
            "success": False,
            "error": error,
        },
    )


def test_ckan_form_post_and_zero_limit(http: httpx.Client) -> None:
    """A form post is read as CKAN reads it; limit 0 lists nothing, over GET and POST alike."""
    searched = http.post("/api/3/action/package_search", data={"rows": "1", "sort": "name asc"})
    assert (searched.status_code, len(searched.json()["result"]["results"])) == (200, 1)
    assert http.get("/api/3/action/package_list", params={"limit": 0}).json()["result"] == []
    assert http.post("/api/3/action/package_list", json={"limit": 0}).json()["result"] == []


def test_ckan_help_link_answers(http: httpx.Client) -> None:
    envelope = http.get("/api/3/action/package_list").json()
    response = http.get(envelope["help"])
    assert (response.status_code, response.json()["success"]) == (200, True)
    assert isinstance(response.json()["result"], str)


# --- 5. schema.org, sitemap, robots.txt ---------------------------------------------------------


class _JsonLdScripts(HTMLParser):
    """Collect the text of every ``<script type="application/ld+json">``."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "script" and ("type", "application/ld+json") in attrs
        if self._inside:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._inside = self._inside and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.scripts[-1] += data


def page_jsonld(http: httpx.Client, path: str, monkeypatch: pytest.MonkeyPatch) -> Graph:
    response = http.get(path)
    assert (response.status_code, media_type(response)) == (200, "text/html")
    parser = _JsonLdScripts()
    parser.feed(response.text)
    assert len(parser.scripts) == 1
    with monkeypatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        return schemaorg_graph(json.loads(parser.scripts[0]))


def test_dataset_page_carries_schema_org_dataset(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = page_jsonld(http, f"/datasets/{FLAGSHIP}", monkeypatch)
    latest = descriptor()
    dataset = URIRef(f"{live.url}/v1/datasets/{FLAGSHIP}")
    release = f"{live.url}/v1/datasets/{FLAGSHIP}/{LATEST}"
    assert (dataset, RDF.type, SDO.Dataset) in graph
    temporal = latest["x-catalog"]["temporal"]
    assert {
        p: graph.value(dataset, p)
        for p in (SDO.name, SDO.description, SDO.version, SDO.license, SDO.temporalCoverage)
    } == {
        SDO.name: Literal(latest["title"]),
        SDO.description: Literal(latest["description"]),
        SDO.version: Literal(LATEST),
        SDO.license: URIRef("https://creativecommons.org/licenses/by/4.0/"),
        SDO.temporalCoverage: Literal(f"{temporal['start']}/{temporal['end']}"),
    }
    creators = {str(graph.value(c, SDO.name)) for c in graph.objects(dataset, SDO.creator)}
    assert creators == {c["title"] for c in latest["contributors"] if "author" in c["roles"]}
    places = [graph.value(p, SDO.name) for p in graph.objects(dataset, SDO.spatialCoverage)]
    assert places == [Literal("Cambodia")]
    variables = Counter(
        (str(graph.value(v, SDO.name)), str(graph.value(v, SDO.description)))
        for v in graph.objects(dataset, SDO.variableMeasured)
    )
    assert variables == Counter(
        (f["name"], f["description"]) for r in latest["resources"] for f in r["schema"]["fields"]
    )
    downloads = {
        str(graph.value(d, SDO.contentUrl)): str(graph.value(d, SDO.encodingFormat))
        for d in graph.objects(dataset, SDO.distribution)
        if (d, RDF.type, SDO.DataDownload) in graph
    }
    assert downloads == {f"{release}.zip": "application/zip"} | {
        f"{release}/{name}.csv": "text/csv" for name in resource_names()
    }
    for url in downloads:
        assert http.get(url).status_code == 200, url


def test_home_page_carries_schema_org_data_catalog(
    live: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = page_jsonld(http, "/", monkeypatch)
    catalog = URIRef(f"{live.url}/catalog")
    assert (catalog, RDF.type, SDO.DataCatalog) in graph
    assert set(graph.objects(catalog, SDO.dataset)) == {
        URIRef(f"{live.url}/v1/datasets/{FLAGSHIP}")
    }


def test_sitemap_lists_every_page_and_release_and_each_url_answers(
    live: LiveServer, http: httpx.Client
) -> None:
    response = http.get("/sitemap.xml")
    assert (response.status_code, media_type(response)) == (200, "application/xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ElementTree.fromstring(response.content)
    entries = [
        (u.findtext("s:loc", namespaces=ns), u.findtext("s:lastmod", namespaces=ns))
        for u in root.findall("s:url", ns)
    ]
    iri = f"{live.url}/v1/datasets/{FLAGSHIP}"
    tables = [(loc, m) for loc, m in entries if f"{live.url}/datasets/{FLAGSHIP}/" in str(loc)]
    for version in VERSIONS:
        names = [r["name"] for r in descriptor(version)["resources"]]
        pages = {f"{live.url}/datasets/{FLAGSHIP}/{version}/{name}" for name in names}
        assert pages <= {loc for loc, _ in tables}
    entries = [entry for entry in entries if entry not in tables]
    assert [loc for loc, _ in entries] == [
        f"{live.url}/",
        f"{live.url}/datasets/{FLAGSHIP}",
        f"{live.url}/embed/{FLAGSHIP}/running-totals",
        *(f"{iri}/{v}/datapackage.json" for v in VERSIONS),
    ]
    assert [lastmod for _, lastmod in entries[3:]] == [
        descriptor(v)["created"][:10] for v in VERSIONS
    ]
    for loc, _ in [*entries, *tables]:
        assert http.get(str(loc)).status_code == 200, loc


def test_robots_txt_points_at_the_sitemap(live: LiveServer, http: httpx.Client) -> None:
    response = http.get("/robots.txt")
    assert (response.status_code, media_type(response)) == (200, "text/plain")
    assert response.text == f"User-agent: *\nAllow: /\nSitemap: {live.url}/sitemap.xml\n"


# --- HEAD, as link checkers send it -------------------------------------------------------------

HARVESTED = [
    "/",
    "/sitemap.xml",
    "/robots.txt",
    "/datapackage.json",
    "/catalog.ttl",
    "/data.json",
    f"/datasets/{FLAGSHIP}",
    f"/v1/datasets/{FLAGSHIP}/{LATEST}/datapackage.json",
    f"/v1/datasets/{FLAGSHIP}/{LATEST}/figures.csv",
    f"/v1/datasets/{FLAGSHIP}/{LATEST}.zip",
    "/api/3/action/package_list",
]


def test_harvested_urls_answer_head_like_get(http: httpx.Client) -> None:
    answers = []
    for path in HARVESTED:
        head, get = http.head(path), http.get(path)
        answers.append((path, head.status_code, head.headers.get("content-type"), head.content))
        assert get.status_code == 200, path
    assert answers == [
        (path, 200, http.get(path).headers["content-type"], b"") for path in HARVESTED
    ]
