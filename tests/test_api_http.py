"""HTTP behaviour around the rows API: caching, errors, CORS, gzip, catalog, health and docs."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from functools import cache
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from api.query.operators import CONTROLS, OPERATORS
from tests.helpers import BASE_URL, DATASETS, FLAGSHIP
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio

VERSIONS = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.3.1"]
LATEST = VERSIONS[-1]
PACKAGE_URL = f"{BASE_URL}/v1/datasets/{FLAGSHIP}"
PINNED = f"/v1/datasets/{FLAGSHIP}/{LATEST}"
IMMUTABLE = "public, max-age=31536000, immutable"
PROBLEM_JSON = "application/problem+json"
STRONG_ETAG = re.compile(r'^"[^"]+"$')


@cache
def descriptor(version: str) -> dict[str, Any]:
    """A release's own datapackage.json."""
    path = DATASETS / FLAGSHIP / version / "datapackage.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def row_count(version: str, resource: dict[str, Any]) -> int:
    """Rows of a released CSV file, read with the csv module."""
    path = DATASETS / FLAGSHIP / version / resource["path"]
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def link_targets(header: str) -> dict[str, str]:
    """The `Link` header as {rel: target}."""
    found = re.findall(r'<([^>]*)>\s*;\s*rel="([^"]+)"', header)
    return {rel: target for target, rel in found}


def describedby(version: str) -> str:
    return f"{BASE_URL}/v1/datasets/{FLAGSHIP}/{version}/datapackage.json"


# --- caching and provenance headers ------------------------------------------------------------

ROWS_URLS = [
    f"{PINNED}/figures",
    f"{PINNED}/figures?metric=suspects_detained&_size=5",
    f"{PINNED}/figures.json?_sort=-value",
    f"{PINNED}/figures.csv",
    f"{PINNED}/figures.csv?nationality=KR&_bom=1",
    f"{PINNED}/figures.ndjson?qualifier=fewer_than",
    f"{PINNED}/figures/ap_cebu_20250719-02",
    f"{PINNED}/figure_provinces/ap_mb_20250717-03,KH-12",
]


@pytest.mark.parametrize("path", ROWS_URLS)
async def test_pinned_rows_responses_are_immutable_and_say_what_they_are(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    headers = response.headers
    assert STRONG_ETAG.match(headers["etag"]), headers["etag"]
    assert headers["cache-control"] == IMMUTABLE
    assert headers["x-dataset-version"] == LATEST
    assert headers["x-license"] == "CC-BY-4.0"
    assert "content-location" not in headers
    assert link_targets(headers["link"])["describedby"] == describedby(LATEST)
    assert "successor-version" not in link_targets(headers["link"])


@pytest.mark.parametrize("path", ROWS_URLS)
async def test_if_none_match_gives_304_with_an_empty_body(
    client: httpx.AsyncClient, path: str
) -> None:
    first = await client.get(path)
    etag = first.headers["etag"]
    for candidates in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await client.get(path, headers={"If-None-Match": candidates})
        assert response.status_code == 304, candidates
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.headers["x-dataset-version"] == LATEST
        assert link_targets(response.headers["link"])["describedby"] == describedby(LATEST)
    stale = await client.get(path, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == first.content


async def test_each_representation_has_its_own_etag(client: httpx.AsyncClient) -> None:
    paths = [
        f"{PINNED}/figures",
        f"{PINNED}/figures?_size=5",
        f"{PINNED}/figures.csv",
        f"{PINNED}/figures.ndjson",
        f"{PINNED}/figures.csv?_delimiter=;",
        f"/v1/datasets/{FLAGSHIP}/1.1.0/figures",
    ]
    etags = [(await client.get(path)).headers["etag"] for path in paths]
    by_accept = await client.get(f"{PINNED}/figures", headers={"Accept": "text/csv"})
    etags.append(by_accept.headers["etag"])
    assert len(set(etags)) == len(etags)


async def test_one_etag_means_one_body(client: httpx.AsyncClient) -> None:
    """The body echoes the query in its order (filters, next_url), so the ETag follows it too."""
    one = await client.get(f"{PINNED}/figures?metric=suspects_detained&qualifier=exact&_size=2")
    two = await client.get(f"{PINNED}/figures?_size=2&qualifier=exact&metric=suspects_detained")
    assert one.content != two.content
    assert one.headers["etag"] != two.headers["etag"]


async def test_a_bad_query_is_never_a_304(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PINNED}/figures?value=many", headers={"If-None-Match": "*"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    "path",
    [
        "figures?metric=suspects_detained&_sort=as_of&_size=5",
        "figures.csv?nationality=KR",
        "figures.csv",
        "figures/ap_cebu_20250719-02",
    ],
)
async def test_latest_is_short_lived_and_points_at_the_pinned_url(
    client: httpx.AsyncClient, path: str
) -> None:
    latest_path = f"/v1/datasets/{FLAGSHIP}/latest/{path}"
    response = await client.get(latest_path)
    pinned = await client.get(f"{PINNED}/{path}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    location = response.request.url.join(response.headers["content-location"])
    assert str(location) == f"{BASE_URL}{PINNED}/{path}"
    assert response.headers["x-dataset-version"] == LATEST
    assert link_targets(response.headers["link"])["describedby"] == describedby(LATEST)
    assert STRONG_ETAG.match(response.headers["etag"])
    assert response.content == pinned.content
    again = await client.get(latest_path, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["content-location"] == response.headers["content-location"]


@pytest.mark.parametrize(
    "version,successor",
    [
        ("1.0.0", "1.1.0"),
        ("1.1.0", "1.2.0"),
        ("1.2.0", "1.3.0"),
        ("1.3.0", "1.3.1"),
        ("1.3.1", None),
    ],
)
async def test_older_releases_link_their_successor(
    client: httpx.AsyncClient, version: str, successor: str | None
) -> None:
    response = await client.get(f"/v1/datasets/{FLAGSHIP}/{version}/figures?_size=1")
    links = link_targets(response.headers["link"])
    assert response.headers["x-dataset-version"] == version
    assert links["describedby"] == describedby(version)
    assert links["cite-as"] == f"{BASE_URL}/v1/datasets/{FLAGSHIP}/{version}"
    assert links["license"] == "https://creativecommons.org/licenses/by/4.0/"
    if successor is None:
        assert "successor-version" not in links
        return
    assert links["successor-version"].startswith(f"{BASE_URL}/v1/datasets/{FLAGSHIP}/{successor}")
    followed = await client.get(links["successor-version"], follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["version"] == successor


async def test_describedby_link_resolves_to_the_descriptor(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PINNED}/figures?_size=1")
    target = link_targets(response.headers["link"])["describedby"]
    found = await client.get(target)
    assert found.status_code == 200
    assert found.json()["version"] == LATEST
    assert found.json()["name"] == FLAGSHIP


async def test_paged_json_links_the_next_page(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PINNED}/metrics?_size=10")
    body = response.json()
    assert body["next_url"] == f"{BASE_URL}{PINNED}/metrics?_size=10&_next={body['next']}"
    assert link_targets(response.headers["link"])["next"] == body["next_url"]
    assert response.headers["x-total-count"] == "43"


async def test_next_url_uses_the_configured_base_url(client: httpx.AsyncClient) -> None:
    """Behind a proxy the Host header is internal; links must use OPENDATA_BASE_URL."""
    path = f"/v1/datasets/{FLAGSHIP}/latest/metrics?_size=2"
    public = await client.get(path)
    internal = await client.get(path, headers={"Host": "10.0.0.5:8000"})
    token = public.json()["next"]
    expected = f"{BASE_URL}{PINNED}/metrics?_size=2&_next={token}"
    assert public.json()["next_url"] == expected
    assert internal.json()["next_url"] == expected
    assert link_targets(internal.headers["link"])["next"] == expected
    assert internal.headers["etag"] == public.headers["etag"]
    assert internal.content == public.content


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient) -> None:
    """Link checkers and caches use HEAD; CORS advertises it too."""
    for path in (f"{PINNED}/figures.csv", f"{PINNED}/figures?_size=5"):
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
        for name in ("etag", "cache-control", "link", "x-dataset-version", "content-type"):
            assert head.headers[name] == get.headers[name]


# --- compression, CORS, negotiation --------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [f"{PINNED}/figures.csv", f"{PINNED}/figures?_size=50", f"{PINNED}/figures.ndjson"]
)
async def test_large_bodies_are_gzipped_when_asked(client: httpx.AsyncClient, path: str) -> None:
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    zipped = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.content == plain.content
    assert zipped.num_bytes_downloaded < len(plain.content) / 2


async def test_cors_allows_any_origin(client: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://newsroom.example"}
    response = await client.get(f"{PINNED}/figures?_size=1", headers=origin)
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = await client.options(
        f"{PINNED}/figures",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]
    problem = await client.get(f"{PINNED}/figures?value=many", headers=origin)
    assert problem.headers["access-control-allow-origin"] == "*"


async def test_cors_exposes_every_provenance_header(client: httpx.AsyncClient) -> None:
    """A browser script may read the headers that say what a response is."""
    response = await client.get(
        f"/v1/datasets/{FLAGSHIP}/latest/figures?_size=1",
        headers={"Origin": "https://newsroom.example"},
    )
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    sent = {"link", "etag", "x-dataset-version", "x-license", "x-total-count", "content-location"}
    assert sent <= set(response.headers)
    assert sent <= exposed


async def test_unacceptable_media_type_is_a_406_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PINNED}/figures", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["content-type"] == PROBLEM_JSON
    assert problem_body(response) == {
        "type": "/problems/not-acceptable",
        "title": "Not acceptable",
        "status": 406,
        "detail": "cannot produce 'image/png'; offered: application/json, text/csv, "
        "application/x-ndjson, application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "instance": f"{PINNED}/figures",
    }


# --- not found and other problems --------------------------------------------------------------

RESOURCES = ", ".join(r["name"] for r in descriptor(LATEST)["resources"])
NO_RELEASE = f"package '{FLAGSHIP}' has no release '{{}}' (releases: {', '.join(VERSIONS)})"
NO_RESOURCE = f"release {FLAGSHIP} {LATEST} has no resource '{{}}' (resources: {RESOURCES})"

NOT_FOUND: dict[str, tuple[str, str]] = {
    "unknown-package": ("/v1/datasets/nope/1.2.0/figures", "no package named 'nope'"),
    "unknown-package-latest": ("/v1/datasets/nope/latest/figures.csv", "no package named 'nope'"),
    "unknown-package-summary": ("/v1/datasets/nope", "no package named 'nope'"),
    "unknown-version": (f"/v1/datasets/{FLAGSHIP}/9.9.9/figures", NO_RELEASE.format("9.9.9")),
    "partial-version": (f"/v1/datasets/{FLAGSHIP}/1.2/figures.csv", NO_RELEASE.format("1.2")),
    "unknown-resource": (f"{PINNED}/nope", NO_RESOURCE.format("nope")),
    "unknown-resource-csv": (f"{PINNED}/nope.csv", NO_RESOURCE.format("nope")),
    "row-of-unknown-resource": (f"{PINNED}/nope/1", NO_RESOURCE.format("nope")),
    "unknown-row": (f"{PINNED}/figures/nope-01", "figures has no row with key 'nope-01'"),
    "row-of-a-later-release": (
        f"/v1/datasets/{FLAGSHIP}/1.0.0/figures/dantri_20251220-03",
        "figures has no row with key 'dantri_20251220-03'",
    ),
    "composite-key-unknown": (
        f"{PINNED}/figure_provinces/ap_mb_20250717-03,KH-99",
        "figure_provinces has no row with key 'ap_mb_20250717-03,KH-99'",
    ),
    "composite-key-half": (
        f"{PINNED}/figure_provinces/ap_mb_20250717-03",
        "No row with key 'ap_mb_20250717-03' in figure_provinces.",
    ),
}


@pytest.mark.parametrize("path,detail", list(NOT_FOUND.values()), ids=list(NOT_FOUND))
async def test_not_found_is_a_problem_document(
    client: httpx.AsyncClient, path: str, detail: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert problem_body(response) == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": detail,
        "instance": path.split("?")[0],
    }


async def test_a_path_outside_the_api_is_a_problem_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert problem_body(response) == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/no/such/page",
    }


async def test_writing_is_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{PINNED}/figures", content=b"{}")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert {k: body[k] for k in ("type", "title", "status", "instance")} == {
        "type": "about:blank",
        "title": "Method not allowed",
        "status": 405,
        "instance": f"{PINNED}/figures",
    }
    assert isinstance(body["detail"], str)
    assert "GET" in response.headers["allow"]


# --- health and catalog ------------------------------------------------------------------------


async def test_health_probes(client: httpx.AsyncClient) -> None:
    live = await client.get("/healthz")
    ready = await client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "releases": len(VERSIONS)},
    )


CHANGELOG = {
    "1.0.0": "First release: 32 reports published up to 18 October 2025, with 176 figures. It "
    "covers the campaign from its start on 27 June 2025 to the CCCOS tally of 14 October 2025 "
    "(3,455 detained, 2,825 deported) and the deportation of 64 South Koreans on 17 October, "
    "with pre-campaign baselines and the first Vietnamese handovers.",
    "1.1.0": "Adds 20 reports published from 19 October 2025 to 31 December 2025, with 83 "
    "figures. New: the Bavet raids of 4 November, the CCOS tallies of 7 and 18 December (4,851 "
    "and 4,983 detained, 4,039 deported) and more Vietnamese handovers.",
    "1.2.0": "Adds 42 reports published from 1 January 2026 to 12 March 2026, with 174 figures. "
    "New: the seven-month tally, the Bavet raid of 31 January (2,044 detained), the February "
    "deportation batches, Indonesian embassy figures and the conflicting February-March "
    "deportation totals.",
    "1.3.0": "Adds 9 reports, 3 of them published from 13 March 2026 to 18 March 2026 and 6 "
    "published earlier that the research had missed, and 45 figures (40 from the new reports, "
    "5 from reports already in the package). New: the Interior Ministry tally of 1 January to "
    "14 March 2026 (5,771 held at 98 sites), the AP report of 13 March (79 cases against 697 "
    "people), the seed report of 18 October 2025 read in full, and the correct loss figure of "
    "the 73 Korean suspects.",
    "1.3.1": "Adds no rows: the reports and data files are those of the release before. The "
    "package declares its chart: the campaign's running totals of people detained, foreigners "
    "deported and locations inspected.",
}


def release_summary(version: str, previous: str | None) -> dict[str, Any]:
    """One release of the package summary, from its descriptor and CSV files."""
    info = descriptor(version)
    prefix = f"{PACKAGE_URL}/{version}"
    rows = {r["name"]: row_count(version, r) for r in info["resources"]}
    return {
        "version": version,
        "published": info["created"][:10],
        "changelog": CHANGELOG[version],
        "rows": rows,
        "total_rows": sum(rows.values()),
        "links": {
            "self": prefix,
            "datapackage": f"{prefix}/datapackage.json",
            "validation": f"{prefix}/validation.json",
            "zip": f"{prefix}.zip",
            "citation": f"{prefix}/citation?format=apa",
            "resources": {name: f"{prefix}/{name}" for name in rows},
        },
        "diff_from_previous": (
            f"{PACKAGE_URL}/diff?from={previous}&to={version}" if previous else None
        ),
    }


async def test_package_list_whole_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/datasets")
    latest = descriptor(LATEST)
    assert response.json() == {
        "datasets": [
            {
                "name": FLAGSHIP,
                "title": latest["title"],
                "description": latest["description"],
                "latest_version": LATEST,
                "versions": VERSIONS,
                "url": PACKAGE_URL,
                "latest_url": f"{PACKAGE_URL}/{LATEST}",
            }
        ],
        "count": 1,
    }


async def test_package_summary_whole_body(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/datasets/{FLAGSHIP}")
    body = response.json()
    for release in body["releases"]:
        loaded_at = datetime.fromisoformat(release.pop("loaded_at"))
        assert loaded_at.tzinfo is not None
    latest = descriptor(LATEST)
    previous = [None, *VERSIONS[:-1]]
    assert body == {
        "name": FLAGSHIP,
        "title": latest["title"],
        "description": latest["description"],
        "latest_version": LATEST,
        "licenses": latest["licenses"],
        "keywords": latest["keywords"],
        "releases": [
            release_summary(v, p) for v, p in reversed(list(zip(VERSIONS, previous, strict=True)))
        ],
        "links": {
            "self": PACKAGE_URL,
            "latest": f"{PACKAGE_URL}/latest",
            "page": f"{BASE_URL}/datasets/{FLAGSHIP}",
        },
    }
    assert body["releases"][0]["rows"]["figures"] == 478


def _urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for item in value.values() for u in _urls(item)]
    return [value] if isinstance(value, str) and value.startswith(BASE_URL) else []


async def _broken(client: httpx.AsyncClient, links: list[str]) -> list[tuple[str, int]]:
    broken = []
    for link in links:
        response = await client.get(link, follow_redirects=True)
        if response.status_code != 200:
            broken.append((link, response.status_code))
    return broken


async def test_every_link_of_the_package_summary_resolves(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"/v1/datasets/{FLAGSHIP}")).json()
    links = _urls(body["links"])
    for release in body["releases"]:
        links += _urls(release["links"])
    assert len(links) == 3 + 3 * (5 + 10) + 2 * (5 + 11)  # 1.3.0 adds running_totals
    assert await _broken(client, links) == []


async def test_diff_links_of_the_package_summary_resolve(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"/v1/datasets/{FLAGSHIP}")).json()
    links = [r["diff_from_previous"] for r in body["releases"] if r["diff_from_previous"]]
    assert len(links) == len(VERSIONS) - 1
    assert await _broken(client, links) == []


# --- OpenAPI and the docs --------------------------------------------------------------------


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


JSON_TYPES = {"string": "string", "integer": "integer", "date": "string", "number": "number"}


async def test_openapi_is_3_1_with_unique_operation_ids(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1.")
    ids = [op["operationId"] for item in openapi["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


async def test_openapi_page_schema_names_every_key_of_a_page(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    operation = openapi["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/figures"]["get"]
    content = operation["responses"]["200"]["content"]["application/json"]
    page_schema = _resolve(openapi, content["schema"]["$ref"])
    body = (await client.get(f"{PINNED}/figures?_facet=sex&_size=1")).json()
    assert set(body) == set(page_schema["properties"])


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/v1/datasets/{package}/diff", ["package", "from", "to", "resource", "_size", "_next"]),
        ("/v1/datasets/{package}/diff.csv", ["package", "from", "to", "resource"]),
    ],
)
async def test_openapi_lists_the_parameters_a_diff_reads(
    openapi: dict[str, Any], path: str, names: list[str]
) -> None:
    parameters = openapi["paths"][path]["get"]["parameters"]
    assert [p["name"] for p in parameters] == names
    assert all(p["description"] for p in parameters if p["in"] == "query")


async def test_a_page_is_valid_against_its_openapi_schema(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    operation = openapi["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/figures"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = {"$ref": ref, "components": openapi["components"]}
    for query in ("_facet=sex&_size=2", "_size=1&_count=none"):
        body = (await client.get(f"{PINNED}/figures?{query}")).json()
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
        assert errors == [], query


@pytest.mark.parametrize("resource", [r["name"] for r in descriptor(LATEST)["resources"]])
async def test_openapi_has_a_typed_operation_per_resource(
    openapi: dict[str, Any], resource: str
) -> None:
    info = next(r for r in descriptor(LATEST)["resources"] if r["name"] == resource)
    fields = info["schema"]["fields"]
    operation = openapi["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/{resource}"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}

    expected = {"version", *CONTROLS}
    for f in fields:
        expected.add(f["name"])
        expected.update(
            f"{f['name']}__{key}" for key, op in OPERATORS.items() if f["type"] in op.types
        )
    assert set(parameters) == expected
    assert len(operation["parameters"]) == len(expected)
    assert parameters["version"]["in"] == "path"
    having = [v for v in VERSIONS if any(r["name"] == resource for r in descriptor(v)["resources"])]
    assert parameters["version"]["schema"]["enum"] == ["latest", *having]
    for f in fields:
        enum = (f.get("constraints") or {}).get("enum")
        if enum is not None:
            assert parameters[f["name"]]["schema"]["enum"] == enum

    page = _resolve(
        openapi, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    row = _resolve(openapi, page["properties"]["rows"]["items"]["$ref"])
    assert list(row["properties"]) == [f["name"] for f in fields]
    expandable = {key["fields"][0] for key in info["schema"].get("foreignKeys", [])}
    for f in fields:
        prop = row["properties"][f["name"]]
        if f["name"] in expandable:  # its value, the row `_expand` puts there, or null
            assert [set(alternative) for alternative in prop["anyOf"][1:]] == [{"$ref"}, {"type"}]
            prop = prop["anyOf"][0]
        required = bool((f.get("constraints") or {}).get("required"))
        required = required or f["name"] in info["schema"]["primaryKey"]
        json_type = JSON_TYPES[f["type"]]
        assert prop["type"] == (json_type if required else [json_type, "null"]), f["name"]
        assert prop["description"] == f["description"]
        if f["type"] == "date":
            assert prop["format"] == "date"
        enum = (f.get("constraints") or {}).get("enum")
        if enum is not None:
            assert prop["enum"] == (enum if required else [*enum, None])
    for status in ("400", "404", "406"):
        content = operation["responses"][status]["content"]
        assert content == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


async def test_openapi_figures_parameters_by_type(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"][f"/v1/datasets/{FLAGSHIP}/{{version}}/figures"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"value__gt", "value__between", "metric__contains", "sex__isnull", "_next"} <= names
    assert not {"value__contains", "value__startswith", "value__icontains"} & names
    qualifier = next(p for p in operation["parameters"] if p["name"] == "qualifier")
    assert qualifier["schema"] == {
        "type": "string",
        "enum": ["exact", "approximately", "more_than", "at_least", "fewer_than"],
    }


async def test_docs_are_served_offline(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    page = response.text
    assert "cdn" not in page.lower()
    assert not re.search(r"https?://", page)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) == 4
    assert all(a.startswith(("/static/swagger/", "/static/docs/")) for a in assets)
    assert 'data-openapi-url="/openapi.json"' in page
    for asset in assets:
        found = await client.get(asset)
        assert found.status_code == 200, asset
        assert len(found.content) > 0


async def test_dataset_page_cites_in_plain_text(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"/datasets/{FLAGSHIP}")).text
    cite = page.split('<pre id="citation-apa"', 1)[1].split("</pre>", 1)[0]
    assert f"(Version {LATEST}) [Data set]" in cite
    assert "*" not in cite


async def test_every_problem_type_resolves(client: httpx.AsyncClient) -> None:
    """The `type` of a problem is a URI that answers with what it means."""
    bad = (await client.get(f"{PINNED}/figures?value=many")).json()
    missing = (await client.get(f"{PINNED}/nope")).json()
    for problem in (bad, missing):
        response = await client.get(problem["type"])
        assert response.status_code == 200
        described = response.json()
        assert {k: described[k] for k in ("type", "title", "status")} == {
            k: problem[k] for k in ("type", "title", "status")
        }
        assert described["description"]
    assert (await client.get("/problems/no-such-problem")).status_code == 404
