"""Scale-out: two `opendata serve` processes on one PostgreSQL database serve the same bytes,
and a release loaded while both run is visible on both without a restart."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import DATASETS, FLAGSHIP
from tests.serve_process import ROOT, opendata_command, opendata_serve

PUBLIC_URL = "https://data.example.org"  # both replicas sit behind one public name
NEW = "1.3.1"  # the newest release, added while the replicas serve
BEFORE = "1.3.0"  # the latest release before it
URLS = [
    "/v1/datasets",
    f"/v1/datasets/{FLAGSHIP}",
    f"/v1/datasets/{FLAGSHIP}/1.1.0/datapackage.json",
    f"/v1/datasets/{FLAGSHIP}/1.1.0/figures?metric=suspects_detained&_sort=as_of&_size=7",
    f"/v1/datasets/{FLAGSHIP}/1.1.0/figures.csv",
    f"/v1/datasets/{FLAGSHIP}/latest/reports.ndjson?_sort=-published_date",
    "/datapackage.json",
    "/data.json",
]
VISIBLE_WITHIN = 30.0


def _load(url: str, datasets: Path) -> None:
    command = [*opendata_command(), "load", "--quiet", "--database-url", url]
    command += ["--datasets", str(datasets)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _fetch(base: str, path: str) -> tuple[int, bytes, str | None]:
    response = httpx.get(f"{base}{path}", headers={"Accept-Encoding": "identity"}, timeout=30)
    return response.status_code, response.content, response.headers.get("etag")


def _latest(base: str) -> str:
    response = httpx.get(f"{base}/v1/datasets/{FLAGSHIP}/latest/datapackage.json", timeout=30)
    response.raise_for_status()
    return str(response.json()["version"])


@pytest.mark.postgres
@pytest.mark.slow
def test_replicas_serve_the_same_bytes_and_see_a_new_release(
    make_database: Any, tmp_path: Path
) -> None:
    url = make_database("postgresql")
    datasets = tmp_path / "datasets"
    source = DATASETS / FLAGSHIP
    shutil.copytree(source, datasets / FLAGSHIP, ignore=shutil.ignore_patterns(NEW, "build"))
    _load(url, datasets)
    env = {"OPENDATA_BASE_URL": PUBLIC_URL}
    with (
        opendata_serve(url, datasets_dir=datasets, env=env) as first,
        opendata_serve(url, datasets_dir=datasets, env=env) as second,
    ):
        assert first.port != second.port
        for path in URLS:
            one, other = _fetch(first.url, path), _fetch(second.url, path)
            assert one[0] == 200, path
            assert one == other, f"the replicas differ on {path}"
        assert _latest(first.url) == _latest(second.url) == BEFORE

        shutil.copytree(source / NEW, datasets / FLAGSHIP / NEW)
        _load(url, datasets)
        for server in (first, second):
            deadline = time.monotonic() + VISIBLE_WITHIN
            while _latest(server.url) != NEW:
                assert time.monotonic() < deadline, f"{server.url} never saw {NEW}"
                time.sleep(0.1)
        pinned = f"/v1/datasets/{FLAGSHIP}/{NEW}/figures.csv"
        one, other = _fetch(first.url, pinned), _fetch(second.url, pinned)
        assert one[0] == 200
        assert one == other
        assert first.process.poll() is None and second.process.poll() is None
