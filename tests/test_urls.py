"""The URL map: every link built by `api/metadata/urls.py`, each path segment quoted once."""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from api.metadata.urls import API_PREFIX, PATHS, Links, segment
from tests.helpers import BASE_URL, FLAGSHIP

API = Path(__file__).resolve().parent.parent / "api"
BASE = "https://data.example.org/mirror"
LINKS = Links(BASE)
# Reserved characters (gen-delims and sub-delims), a space, a percent sign and a non-ASCII letter.
PACKAGE = "p k/g?#[]@!$&'()*+,;=%é"
VERSION = "1.0.0+build.5/a%2Bb"
RESOURCE = "figures?x=1#y"
# Where a base URL may be read: its definition, its binding to a request and the map itself.
BASE_URL_HOMES = {Path("config.py"), Path("deps.py"), Path("metadata/urls.py")}


def _names_base_url(node: ast.AST) -> bool:
    return (
        (isinstance(node, ast.Name) and node.id == "base_url")
        or (isinstance(node, ast.Attribute) and node.attr == "base_url")
        or (isinstance(node, ast.arg) and node.arg == "base_url")
        or (isinstance(node, ast.keyword) and node.arg == "base_url")
    )


def url_map_breaches(root: Path) -> list[str]:
    """Every place under `root` that spells the API prefix or handles a base URL itself."""
    found = []
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            line = getattr(node, "lineno", 0)
            if where != Path("metadata/urls.py") and (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and API_PREFIX in node.value
            ):
                found.append(f"{where}:{line}: spells {API_PREFIX}")
            if where not in BASE_URL_HOMES and _names_base_url(node):
                found.append(f"{where}:{line}: handles base_url")
    return found


def test_no_module_but_the_url_map_builds_api_paths_or_joins_a_base_url() -> None:
    assert url_map_breaches(API) == []


def test_the_breach_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "caching.py").write_text(
        "def link(settings, info):\n"
        '    return f"{settings.base_url}/v1/datasets/{info.package}"\n'
        "def old(base_url: str) -> str:\n"
        "    return base_url\n",
        encoding="utf-8",
    )
    assert sorted(url_map_breaches(tmp_path)) == [
        "routes/caching.py:2: handles base_url",
        "routes/caching.py:2: spells /v1/datasets",
        "routes/caching.py:3: handles base_url",
        "routes/caching.py:4: handles base_url",
    ]


def _segments(url: str, base: str = BASE) -> list[str]:
    """The path segments of `url` after the base, each decoded once."""
    assert url.startswith(base)
    path = urlsplit(url).path.removeprefix(urlsplit(base).path)
    return [unquote(part) for part in path.split("/")[1:]]


def _rows(links: Links, *, fmt: str) -> str:
    return links.rows(PACKAGE, VERSION, RESOURCE, fmt)


LINK_CASES: list[tuple[str, Callable[[Links], str], list[str]]] = [
    ("page", lambda lk: lk.page(PACKAGE), ["datasets", PACKAGE]),
    ("package", lambda lk: lk.package(PACKAGE), ["v1", "datasets", PACKAGE]),
    ("release", lambda lk: lk.release(PACKAGE, VERSION), ["v1", "datasets", PACKAGE, VERSION]),
    (
        "descriptor",
        lambda lk: lk.descriptor(PACKAGE, VERSION),
        ["v1", "datasets", PACKAGE, VERSION, "datapackage.json"],
    ),
    (
        "validation",
        lambda lk: lk.validation(PACKAGE, VERSION),
        ["v1", "datasets", PACKAGE, VERSION, "validation.json"],
    ),
    ("zip", lambda lk: lk.zip(PACKAGE, VERSION), ["v1", "datasets", PACKAGE, f"{VERSION}.zip"]),
    (
        "citation",
        lambda lk: lk.citation(PACKAGE, VERSION, "apa"),
        ["v1", "datasets", PACKAGE, VERSION, "citation"],
    ),
    (
        "resource",
        lambda lk: lk.resource(PACKAGE, VERSION, RESOURCE),
        ["v1", "datasets", PACKAGE, VERSION, RESOURCE],
    ),
    *[
        (
            f"rows.{fmt}",
            partial(_rows, fmt=fmt),
            ["v1", "datasets", PACKAGE, VERSION, f"{RESOURCE}.{fmt}"],
        )
        for fmt in ("csv", "json", "ndjson", "xlsx")
    ],
    (
        "row",
        lambda lk: lk.row(PACKAGE, VERSION, RESOURCE, ["a,b", "c"]),
        ["v1", "datasets", PACKAGE, VERSION, RESOURCE, "a,b,c"],
    ),
    ("diff", lambda lk: lk.diff(PACKAGE, VERSION, "2.0.0"), ["v1", "datasets", PACKAGE, "diff"]),
]


@pytest.mark.parametrize(("kind", "build", "segments"), LINK_CASES, ids=[c[0] for c in LINK_CASES])
def test_each_segment_is_quoted_once(
    kind: str, build: Callable[[Links], str], segments: list[str]
) -> None:
    url = build(LINKS)
    assert urlsplit(url).netloc == "data.example.org"
    # Quoted once: one decoding gives the names back, and no name's own `/` splits a segment.
    assert _segments(url) == segments
    assert VERSION not in url and PACKAGE not in url
    # The same link as a path on this host.
    assert build(PATHS) == url.removeprefix("https://data.example.org/mirror")


def test_a_row_key_keeps_a_comma_of_its_own_values_apart_from_the_separator() -> None:
    url = LINKS.row("p", "1.0.0", "r", ["a,b", "c"])
    assert url == f"{BASE}/v1/datasets/p/1.0.0/r/a%2Cb,c"


def test_query_values_are_encoded_once() -> None:
    diff = urlsplit(LINKS.diff("p", "1.0.0+b&c", "latest"))
    assert parse_qs(diff.query) == {"from": ["1.0.0+b&c"], "to": ["latest"]}
    citation = urlsplit(LINKS.citation("p", "1.0.0", "csl-json"))
    assert citation.query == "format=csl-json"
    help_link = urlsplit(LINKS.ckan_help("package_show&x=1"))
    assert parse_qs(help_link.query) == {"name": ["package_show&x=1"]}


def test_known_links_are_byte_for_byte_as_published() -> None:
    links = Links("https://data.example.org/")
    assert links.base_url == "https://data.example.org"
    assert links.host == "data.example.org"
    assert links.home() == "https://data.example.org/"
    assert links.release("kh", "1.2.0") == "https://data.example.org/v1/datasets/kh/1.2.0"
    assert links.rows("kh", "latest", "figures") == (
        "https://data.example.org/v1/datasets/kh/latest/figures.csv"
    )
    assert links.diff("kh", "1.0.0", "1.1.0") == (
        "https://data.example.org/v1/datasets/kh/diff?from=1.0.0&to=1.1.0"
    )
    assert links.catalog_page("ttl", page=2, page_size=10, modified_since="2025-01-01") == (
        "https://data.example.org/catalog.ttl?page=2&page_size=10&modified_since=2025-01-01"
    )
    assert links.catalog_page("jsonld") == "https://data.example.org/catalog.jsonld"
    assert links.catalog_template("jsonld") == (
        "https://data.example.org/catalog.jsonld{?page,page_size,modified_since}"
    )
    assert links.ckan_object("tag", "a b") == "https://data.example.org/tag/a b"
    assert PATHS.resource_template("kh", "figures") == "/v1/datasets/kh/{version}/figures"


def test_a_request_path_is_quoted_once_and_gives_the_link_of_the_route() -> None:
    # ASGI hands a route its path decoded: made absolute, it is the link the map builds.
    # (A name with a `/` of its own matches no route: its decoded path has one segment more.)
    package, version = PACKAGE.replace("/", ""), VERSION.replace("/", "")
    built = LINKS.rows(package, version, RESOURCE, "json")
    decoded = unquote(urlsplit(PATHS.rows(package, version, RESOURCE, "json")).path)
    assert LINKS.at(decoded) == built
    assert LINKS.at(decoded, [("_next", "a b")]) == f"{built}?_next=a+b"
    assert LINKS.at("/v1/datasets", "q=encoded%20") == f"{BASE}/v1/datasets?q=encoded%20"


def test_an_unknown_rows_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rows format 'pdf'"):
        LINKS.rows("p", "1.0.0", "r", "pdf")


def test_segment_leaves_only_unreserved_characters_bare() -> None:
    assert segment("AZaz09-._~") == "AZaz09-._~"
    assert segment("a/b c+d%") == "a%2Fb%20c%2Bd%25"


@pytest.mark.anyio
async def test_a_percent_encoded_request_gets_links_quoted_once(client: httpx.AsyncClient) -> None:
    """`%6D` is `m`: the server decodes the path once, and its links quote it once again."""
    response = await client.get(f"/v1/datasets/{FLAGSHIP}/latest/%6Detrics?_size=2")
    assert response.status_code == 200
    body = response.json()
    pinned = Links(BASE_URL).resource(FLAGSHIP, body["version"], "metrics")
    assert body["next_url"] == f"{pinned}?_size=2&_next={body['next']}"
