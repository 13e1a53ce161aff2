"""A live `opendata serve` on a free port, OPENDATA_BASE_URL unset: every link names that port.

The server is a real child process (uvicorn, its own settings read from the environment), read
over real HTTP; the frictionless CLI validates the descriptor it serves, fetching every resource
from the links in it. Expectations come from the released files, never from the code under test.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP
from tests.serve_process import HOST, ServeProcess, opendata_serve

pytestmark = pytest.mark.slow

LATEST = "1.3.1"
PINNED = f"/v1/datasets/{FLAGSHIP}/{LATEST}"
DESCRIPTOR = f"{PINNED}/datapackage.json"
# Every kind of document that embeds absolute links, one URL each.
LINKED = {
    "descriptor": DESCRIPTOR,
    "rows page": f"{PINNED}/figures?_size=3",
    "citation": f"{PINNED}/citation?format=bibtex",
    "dataset page": f"/datasets/{FLAGSHIP}",
    "table page": f"/datasets/{FLAGSHIP}/{LATEST}/figures",
    "DCAT": "/catalog.ttl",
    "DCAT JSON-LD": "/catalog.jsonld",
    "data.json": "/data.json",
    "CKAN": f"/api/3/action/package_show?id={FLAGSHIP}",
    "root descriptor": "/datapackage.json",
    "sitemap": "/sitemap.xml",
}
URL = re.compile(r"https?://[^\s\"'<>\\)]+")


def released_resources() -> list[str]:
    """The resource names of the latest release, from its own descriptor."""
    path = DATASETS / FLAGSHIP / LATEST / "datapackage.json"
    return [r["name"] for r in json.loads(path.read_bytes())["resources"]]


def local_links(text: str) -> set[str]:
    """The scheme, host and port of every link in `text` to this machine."""
    found = set()
    for url in URL.findall(text):
        parts = urlsplit(url)
        if parts.hostname in (HOST, "localhost"):
            found.add(f"{parts.scheme}://{parts.netloc}")
    return found


@pytest.fixture(scope="module")
def server(flagship_url: str) -> Iterator[ServeProcess]:
    """`opendata serve` on a free port of 127.0.0.1, no base URL configured (per backend)."""
    with opendata_serve(flagship_url, datasets_dir=DATASETS) as served:
        yield served


@pytest.fixture
def http(server: ServeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def test_the_server_is_not_on_the_default_port(server: ServeProcess) -> None:
    assert server.port != 8000
    assert server.url == f"http://{HOST}:{server.port}"


@pytest.mark.parametrize("kind", list(LINKED))
def test_every_document_links_to_the_port_it_was_served_on(
    server: ServeProcess, http: httpx.Client, kind: str
) -> None:
    response = http.get(LINKED[kind])
    assert response.status_code == 200, response.text[:300]
    assert local_links(response.text) == {server.url}


def test_descriptor_links_name_the_port(server: ServeProcess, http: httpx.Client) -> None:
    body = http.get(DESCRIPTOR).json()
    assert [r["path"] for r in body["resources"]] == [
        f"{server.url}{PINNED}/{name}.csv" for name in released_resources()
    ]


def test_next_url_and_link_header_name_the_port(server: ServeProcess, http: httpx.Client) -> None:
    response = http.get(f"{PINNED}/figures?_size=3")
    body = response.json()
    assert body["next_url"] == f"{server.url}{PINNED}/figures?_size=3&_next={body['next']}"
    assert local_links(response.headers["link"]) == {server.url}
    assert f'<{server.url}{DESCRIPTOR}>; rel="describedby"' in response.headers["link"]
    following = http.get(body["next_url"])
    assert following.status_code == 200
    assert following.json()["rows"] != body["rows"]


def test_the_zip_readme_names_the_port(server: ServeProcess, http: httpx.Client) -> None:
    archive = zipfile.ZipFile(io.BytesIO(http.get(f"{PINNED}.zip").content))
    readme = next(name for name in archive.namelist() if name.lower() == "readme.md")
    text = archive.read(readme).decode("utf-8")
    assert f"{server.url}{PINNED}" in text
    assert local_links(text) == {server.url}


def test_another_name_of_the_same_server_gets_its_own_links(server: ServeProcess) -> None:
    other = f"http://localhost:{server.port}"
    with httpx.Client(timeout=60) as client:
        by_ip = client.get(f"{server.url}{DESCRIPTOR}")
        by_name = client.get(
            f"{server.url}{DESCRIPTOR}", headers={"Host": f"localhost:{server.port}"}
        )
        again = client.get(f"{server.url}{DESCRIPTOR}")
    assert local_links(by_name.text) == {other}
    assert by_ip.headers["etag"] != by_name.headers["etag"]
    assert by_ip.headers["etag"] == again.headers["etag"]
    assert again.content == by_ip.content


def test_the_local_proxy_is_trusted_to_forward_scheme_and_host(http: httpx.Client) -> None:
    # The test runs on 127.0.0.1, the default OPENDATA_TRUSTED_PROXIES.
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "data.example.org"}
    body = http.get(DESCRIPTOR, headers=forwarded).json()
    assert body["resources"][0]["path"].startswith(f"https://data.example.org{PINNED}/")


def test_a_malformed_host_is_a_400(server: ServeProcess) -> None:
    with httpx.Client(timeout=60) as client:
        response = client.get(f"{server.url}{DESCRIPTOR}", headers={"Host": "evil.example/<x>"})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/bad-host"


def test_frictionless_validates_the_served_descriptor(server: ServeProcess) -> None:
    url = f"{server.url}{DESCRIPTOR}"
    command = [sys.executable, "-m", "frictionless", "validate", "--json", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["valid"], report["errors"]) == (True, [])
    assert [t["place"] for t in report["tasks"]] == [
        f"{server.url}{PINNED}/{name}.csv" for name in released_resources()
    ]
    assert all(t["valid"] for t in report["tasks"])


def test_a_configured_base_url_wins_over_the_port(flagship_url: str) -> None:
    env = {"OPENDATA_BASE_URL": "https://data.example.org"}
    with opendata_serve(flagship_url, datasets_dir=DATASETS, env=env) as served:
        with httpx.Client(base_url=served.url, timeout=60) as client:
            descriptor = client.get(DESCRIPTOR)
            page = client.get(f"{PINNED}/figures?_size=3", headers={"Host": "other.example"})
    assert local_links(descriptor.text) == set()
    assert descriptor.json()["resources"][0]["path"].startswith(f"https://data.example.org{PINNED}")
    assert page.json()["next_url"].startswith(f"https://data.example.org{PINNED}/figures?")
