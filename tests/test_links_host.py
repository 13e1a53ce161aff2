"""Links follow the host a request was sent to, unless OPENDATA_BASE_URL is set.

With the base URL unset, every absolute link is made of the request's scheme and Host (a trusted
proxy's `X-Forwarded-Proto`/`-Host` replacing them), a Host that names no server is a 400, and
the caches and ETags of documents that embed links are kept per base URL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.metadata.urls import normal_host, request_base
from api.web.host import forwarded_host, host_refusal
from tests.helpers import DATASETS, FLAGSHIP, app_client
from tests.problem_body import problem_body

pytestmark = pytest.mark.anyio

LATEST = "1.3.1"
PINNED = f"/v1/datasets/{FLAGSHIP}/{LATEST}"
DESCRIPTOR = f"{PINNED}/datapackage.json"
PAGED = f"{PINNED}/figures?_size=2"
HOST_A, HOST_B = "data.example.org:8443", "mirror.example.net"
# Every document of the service that embeds absolute links, one URL each.
LINKED = [
    DESCRIPTOR,
    PAGED,
    f"{PINNED}/citation?format=bibtex",
    f"/v1/datasets/{FLAGSHIP}",
    "/v1/datasets",
    "/datapackage.json",
    "/catalog.jsonld",
    "/catalog.ttl",
    "/data.json",
    f"/api/3/action/package_show?id={FLAGSHIP}",
    "/sitemap.xml",
    "/robots.txt",
    "/",
    f"/datasets/{FLAGSHIP}",
    f"/datasets/{FLAGSHIP}/{LATEST}/figures",
]


def settings_for(flagship_url: str, **overrides: Any) -> Settings:
    """The flagship's settings with no base URL (unless `overrides` give one)."""
    values: dict[str, Any] = {"base_url": None, **overrides}
    return Settings(database_url=flagship_url, datasets_dir=DATASETS, **values)


@pytest.fixture
async def follow(flagship_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with OPENDATA_BASE_URL unset (its peer, 127.0.0.1, is trusted)."""
    async with app_client(settings_for(flagship_url)) as client:
        yield client


def bases_in(text: str) -> set[str]:
    """The scheme and host of every link to one of the hosts these tests use."""
    found = re.findall(r"https?://(?:testserver|[a-z.]*example\.(?:org|net))(?::\d+)?", text)
    return set(found)


# --- the host, as a value ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "host", "base"),
    [
        ("http", "127.0.0.1:8011", "http://127.0.0.1:8011"),
        ("http", "Data.Example.ORG", "http://data.example.org"),
        ("http", "data.example.org:80", "http://data.example.org"),
        ("https", "data.example.org:443", "https://data.example.org"),
        ("https", "data.example.org:80", "https://data.example.org:80"),
        ("http", "[::1]:8011", "http://[::1]:8011"),
        ("http", "[2001:DB8::1]", "http://[2001:db8::1]"),
        ("http", "api_1:8000", "http://api_1:8000"),
        ("http", "localhost.", "http://localhost."),
        ("http", "evil.example/path", None),
        ("http", "evil.example?q", None),
        ("http", "user@evil.example", None),
        ("http", 'x"><script>', None),
        ("http", "two words", None),
        ("http", "evil.example\r\nSet-Cookie: a=b", None),
        ("http", "%65vil.example", None),
        ("http", "", None),
        ("http", ".example.org", None),
        ("http", "a..example.org", None),
        ("http", "-a.example.org", None),
        ("http", "host:", None),
        ("http", "host:0", None),
        ("http", "host:65536", None),
        ("http", "host:8000:1", None),
        ("http", "[::g]", None),
        ("http", "[::1", None),
        ("http", "x" * 300, None),
        ("ftp", "data.example.org", None),
    ],
)
def test_request_base(scheme: str, host: str, base: str | None) -> None:
    assert request_base(scheme, host) == base
    if scheme in ("http", "https"):
        assert (normal_host(host, scheme) is None) == (base is None)


def test_the_last_forwarded_host_is_the_one_the_trusted_proxy_added() -> None:
    headers = [(b"x-forwarded-host", b"client.example, proxy.example"), (b"x-forwarded-host", b"b")]
    assert forwarded_host({"headers": headers}) == "b"
    assert forwarded_host({"headers": [(b"host", b"a")]}) is None


def test_host_refusal() -> None:
    assert host_refusal({"headers": [(b"host", b"a.example")], "scheme": "http"}) is None
    assert host_refusal({"headers": [], "scheme": "http"}) is None  # HTTP/1.0
    two = host_refusal({"headers": [(b"host", b"a"), (b"host", b"b")], "scheme": "http"})
    assert two is not None and two.code == "bad-host"
    assert host_refusal({"headers": [(b"host", b"a/b")], "scheme": "http"}) is not None


@pytest.mark.parametrize(
    "value",
    ["https://data.example.org/", "http://127.0.0.1:8011", "https://example.org/mirror"],
)
def test_a_configured_base_url_is_kept(value: str) -> None:
    assert Settings(base_url=value).base_url == value.rstrip("/")


@pytest.mark.parametrize(
    "value",
    ["data.example.org", "ftp://data.example.org", "https://", "https://a@b.org", "http://x/?q"],
)
def test_a_base_url_that_cannot_start_links_stops_the_start(value: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        Settings(base_url=value)


def test_an_empty_base_url_means_follow_the_request() -> None:
    assert Settings(base_url="").base_url is None
    assert Settings.model_fields["base_url"].default is None


# --- links follow the Host header --------------------------------------------------------------


@pytest.mark.parametrize("path", LINKED)
async def test_every_linked_document_follows_the_host(follow: httpx.AsyncClient, path: str) -> None:
    """Two hosts, two sets of links; neither leaks into the other's document (or its cache)."""
    first = await follow.get(path, headers={"Host": HOST_A})
    second = await follow.get(path, headers={"Host": HOST_B})
    again = await follow.get(path, headers={"Host": HOST_A})
    assert first.status_code == second.status_code == 200, first.text[:300]
    assert bases_in(first.text) == {f"http://{HOST_A}"}
    assert bases_in(second.text) == {f"http://{HOST_B}"}
    assert again.content == first.content


async def test_link_headers_and_next_url_follow_the_host(follow: httpx.AsyncClient) -> None:
    response = await follow.get(PAGED, headers={"Host": HOST_A})
    body = response.json()
    assert body["next_url"] == f"http://{HOST_A}{PAGED}&_next={body['next']}"
    assert bases_in(response.headers["link"]) == {f"http://{HOST_A}"}
    assert f'<http://{HOST_A}{PINNED}>; rel="cite-as"' in response.headers["link"]


async def test_the_zip_readme_follows_the_host(follow: httpx.AsyncClient) -> None:
    import io
    import zipfile

    response = await follow.get(f"{PINNED}.zip", headers={"Host": HOST_B})
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    readme = next(name for name in archive.namelist() if name.lower().endswith("readme.md"))
    text = archive.read(readme).decode()
    assert f"http://{HOST_B}{PINNED}" in text
    assert bases_in(text) == {f"http://{HOST_B}"}


async def test_the_default_host_is_the_one_the_client_names(follow: httpx.AsyncClient) -> None:
    body = (await follow.get(DESCRIPTOR)).json()
    assert body["resources"][0]["path"].startswith(f"http://testserver{PINNED}/")


# --- ETags cover the base URL ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        DESCRIPTOR,
        PAGED,
        f"{PINNED}/citation",
        f"{PINNED}.zip",
        f"/v1/datasets/{FLAGSHIP}/diff?from=1.2.0&to=1.3.0",
    ],
)
async def test_etags_differ_by_host_and_hold_for_one(follow: httpx.AsyncClient, path: str) -> None:
    first = await follow.get(path, headers={"Host": HOST_A})
    again = await follow.get(path, headers={"Host": HOST_A})
    other = await follow.get(path, headers={"Host": HOST_B})
    assert first.status_code == other.status_code == 200, first.text[:300]
    assert first.headers["etag"] == again.headers["etag"]
    assert first.headers["etag"] != other.headers["etag"]
    # A tag held for one host does not revalidate the other's representation.
    held = {"If-None-Match": first.headers["etag"]}
    assert (await follow.get(path, headers={"Host": HOST_A, **held})).status_code == 304
    assert (await follow.get(path, headers={"Host": HOST_B, **held})).status_code == 200


async def test_latest_and_pinned_share_an_etag_on_one_host(follow: httpx.AsyncClient) -> None:
    pinned = await follow.get(DESCRIPTOR, headers={"Host": HOST_A})
    latest = await follow.get(
        f"/v1/datasets/{FLAGSHIP}/latest/datapackage.json", headers={"Host": HOST_A}
    )
    assert latest.headers["etag"] == pinned.headers["etag"]
    assert latest.content == pinned.content


# --- proxies: trusted or not, and a configured base URL -----------------------------------------

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.org"}


async def test_a_trusted_proxy_names_the_scheme_and_host(follow: httpx.AsyncClient) -> None:
    body = (await follow.get(DESCRIPTOR, headers={"Host": "10.0.0.5:8000", **FORWARDED})).json()
    assert body["resources"][0]["path"].startswith(f"https://public.example.org{PINNED}/")
    chained = {**FORWARDED, "X-Forwarded-Host": "client.example.org, public.example.net:8443"}
    text = (await follow.get(DESCRIPTOR, headers=chained)).text
    assert bases_in(text) == {"https://public.example.net:8443"}


async def test_an_untrusted_peer_cannot_move_the_links(flagship_url: str) -> None:
    settings = settings_for(flagship_url, trusted_proxies=["192.0.2.1"])
    async with app_client(settings) as client:
        response = await client.get(DESCRIPTOR, headers={"Host": HOST_A, **FORWARDED})
    assert bases_in(response.text) == {f"http://{HOST_A}"}


async def test_a_trusted_proxy_forwarding_a_bad_host_gets_a_400(follow: httpx.AsyncClient) -> None:
    response = await follow.get(DESCRIPTOR, headers={"X-Forwarded-Host": "evil.example/x"})
    assert response.status_code == 400
    assert problem_body(response)["type"] == "/problems/bad-host"


async def test_a_configured_base_url_wins(flagship_url: str) -> None:
    settings = settings_for(flagship_url, base_url="https://data.example.org")
    async with app_client(settings) as client:
        first = await client.get(PAGED, headers={"Host": HOST_B, **FORWARDED})
        other = await client.get(PAGED, headers={"Host": HOST_A})
    assert bases_in(first.text) == {"https://data.example.org"}
    assert bases_in(first.headers["link"]) == {"https://data.example.org"}
    assert first.headers["etag"] == other.headers["etag"]
    assert first.content == other.content


# --- a hostile Host ----------------------------------------------------------------------------

BAD_HOSTS = ['evil.example/"><script>', "evil.example:99999", "a b", "user@evil.example", "[::g]"]


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize("base_url", [None, "https://data.example.org"])
async def test_a_host_that_names_no_server_is_a_400(
    flagship_url: str, host: str, base_url: str | None
) -> None:
    async with app_client(settings_for(flagship_url, base_url=base_url)) as client:
        response = await client.get(DESCRIPTOR, headers={"Host": host})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert problem_body(response) == {
        "type": "/problems/bad-host",
        "title": "Bad Host header",
        "status": 400,
        "detail": "the Host header does not name a server: a host name, an IPv4 address or a"
        " bracketed IPv6 address, and an optional port",
        "instance": DESCRIPTOR,
    }
    assert "evil" not in response.text


async def test_two_host_headers_are_a_400(follow: httpx.AsyncClient) -> None:
    headers = httpx.Headers([("Host", HOST_A), ("Host", HOST_B)])
    response = await follow.get(DESCRIPTOR, headers=headers)
    assert response.status_code == 400
    assert problem_body(response)["detail"] == "the request has 2 Host headers; it must have one"
