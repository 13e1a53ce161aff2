"""deploy/nginx.conf in front of a live `opendata serve`: it caches by the API's Cache-Control,
answers conditional requests from the ETag, forwards request ids and keeps probes uncached."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP
from tests.serve_process import HOST, free_port, opendata_serve

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
PINNED = f"/v1/datasets/{FLAGSHIP}/1.2.0/figures?metric=suspects_detained&_size=5"
START_TIMEOUT = 30.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("nginx") is None, reason="nginx not installed: apt-get install nginx"
    ),
]


def local_config(upstream_port: int, listen_port: int, folder: Path) -> Path:
    """The repository's config with the compose names, port and paths mapped to this host."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    for name in ("api-1", "api-2"):
        text = text.replace(f"server {name}:8000", f"server {HOST}:{upstream_port}")
    text = text.replace("listen 80;", f"listen {HOST}:{listen_port};")
    text = text.replace("/var/cache/nginx", str(folder / "cache"))
    text = text.replace("pid /tmp/nginx.pid;", f"pid {folder / 'nginx.pid'};")
    text = text.replace(
        "access_log /dev/stdout upstream;", f"access_log {folder / 'access.log'} upstream;"
    )
    (folder / "cache").mkdir()
    config = folder / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def proxy(
    flagship_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """(proxy base URL, its folder) for nginx in front of one server."""
    folder = tmp_path_factory.mktemp("nginx")
    with opendata_serve(flagship_url, datasets_dir=DATASETS) as server:
        port = free_port()
        config = local_config(server.port, port, folder)
        directives = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
        command = ["nginx", "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
        process = subprocess.Popen([*command, "-g", directives], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.05)
            yield f"http://{HOST}:{port}", folder
        finally:
            process.terminate()
            process.wait(30)


def test_pinned_urls_are_served_from_the_cache(proxy: tuple[str, Path]) -> None:
    url, _ = proxy
    first = httpx.get(f"{url}{PINNED}")
    second = httpx.get(f"{url}{PINNED}")
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert "immutable" in second.headers["cache-control"]


def test_a_known_etag_is_a_304_from_the_cache(proxy: tuple[str, Path]) -> None:
    url, _ = proxy
    etag = httpx.get(f"{url}{PINNED}").headers["etag"]
    again = httpx.get(f"{url}{PINNED}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["x-cache-status"] == "HIT"
    assert again.content == b""


def test_variants_are_cached_apart(proxy: tuple[str, Path]) -> None:
    """Negotiated by Accept: each variant is its own entry (the API sends Vary)."""
    url, _ = proxy
    path = f"/v1/datasets/{FLAGSHIP}/1.1.0/metrics"
    for accept, media_type in (("text/csv", "text/csv"), ("application/json", "application/json")):
        for status in ("MISS", "HIT"):
            answer = httpx.get(f"{url}{path}", headers={"Accept": accept})
            assert answer.headers["x-cache-status"] == status
            assert answer.headers["content-type"].startswith(media_type)


def test_probes_and_metrics_are_not_cached_or_exposed(proxy: tuple[str, Path]) -> None:
    url, _ = proxy
    for _ in range(2):
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert "x-cache-status" not in ready.headers
    assert httpx.get(f"{url}/metrics").status_code == 404


def test_request_ids_are_kept_or_made(proxy: tuple[str, Path]) -> None:
    url, folder = proxy
    httpx.get(f"{url}/healthz", headers={"X-Request-ID": "client-chosen-id"})
    httpx.get(f"{url}/healthz")
    lines = (folder / "access.log").read_text(encoding="utf-8").splitlines()
    ids = [line.rsplit("request_id=", 1)[1].split()[0] for line in lines if "/healthz" in line]
    assert ids[-2] == "client-chosen-id"
    assert len(ids[-1]) == 32 and ids[-1] != ids[-2]  # nginx's $request_id: 32 hex digits


def test_links_name_the_proxy_and_a_forged_host_poisons_no_entry(proxy: tuple[str, Path]) -> None:
    """OPENDATA_BASE_URL unset: links follow the Host the client sent, cached per host."""
    url, _ = proxy
    path = f"/v1/datasets/{FLAGSHIP}/1.2.0/datapackage.json"
    forged = httpx.get(f"{url}{path}", headers={"Host": "evil.example"})
    assert forged.headers["x-cache-status"] == "MISS"
    assert f"http://evil.example/v1/datasets/{FLAGSHIP}/1.2.0/" in forged.text
    for status in ("MISS", "HIT"):
        honest = httpx.get(f"{url}{path}")
        assert honest.headers["x-cache-status"] == status
        assert "evil.example" not in honest.text
        paths = [r["path"] for r in honest.json()["resources"]]
        assert all(p.startswith(f"{url}/v1/datasets/{FLAGSHIP}/1.2.0/") for p in paths), paths
    assert forged.headers["etag"] != honest.headers["etag"]
