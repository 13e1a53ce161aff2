"""A load killed at a random point never shows, never disturbs what is published, and reruns.

`opendata load` runs as a subprocess against a database that already serves `big 1.0.0`, while
a reader fetches pinned pages of that release from a live server and compares them byte for
byte with what they were before. The load is killed (SIGKILL) after a number of its progress
lines (one per batch written) drawn by a seeded RNG. After each kill the published pages are
unchanged, the database holds no table of the half-loaded release, the new release is not
served, and a rerun of the same command loads and serves it.

The kill lands where the seed says, whatever the machine's speed: the load's progress goes into
a pipe left with room for exactly the lines before the kill point, so the load stops, blocked
on the next line (its rows written, its transaction open), until it is killed.
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import os
import random
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.db.engine import writer_engine
from api.db.registry import Resource, table_of
from api.db.sqltypes import rollup_table_name
from api.ingest.discover import find_releases
from api.ingest.load import ReleaseLoader
from tests.builders import field as schema_field
from tests.builders import write_release
from tests.helpers import MakeDatabase
from tests.live import live_server

pytestmark = pytest.mark.slow

SEED = 20260312
KILLS = 5
BATCH = 1_000
NEW_ROWS = 20_000
PIPE_CAPACITY = 4096
HANG_LIMIT = 300.0
SCHEMA: dict[str, Any] = {
    "fields": [schema_field("id", "integer"), schema_field("value", "integer")],
    "primaryKey": ["id"],
}
LABELS: dict[str, Any] = {
    "fields": [schema_field("code"), schema_field("label")],
    "primaryKey": ["code"],
}
PINNED = (
    "/v1/datasets/big/1.0.0/datapackage.json",
    "/v1/datasets/big/1.0.0/values?_size=1000",
    "/v1/datasets/big/1.0.0/values?id__gte=1500&_sort=-value&_size=50",
    "/v1/datasets/big/1.0.0/values/17",
    "/v1/datasets/big/1.0.0/values.csv",
    "/v1/datasets/big/1.0.0/values.csv?value__lt=100",
    "/v1/datasets/big/1.0.0/labels",
)
LATEST = "/v1/datasets/big/latest/labels"
NEW = (
    "/v1/datasets/big/1.1.0/values",
    "/v1/datasets/big/1.1.0/labels",
    "/v1/datasets/big/1.1.0/datapackage.json",
)
OPENDATA = Path(sys.executable).parent / "opendata"
PROGRESS_LINES = 1 + -(-NEW_ROWS // BATCH)  # `labels`, then each batch of `values`
KILL_POINTS = sorted(random.Random(SEED).sample(range(1, PROGRESS_LINES), KILLS))
"""After how many progress lines each run is killed: rows written, at least one batch to go."""


def _csv(rows: int, factor: int) -> str:
    return "id,value\n" + "".join(f"{n},{n * factor}\n" for n in range(rows))


def _releases(datasets: Path) -> None:
    labels = "code,label\na,alpha\nb,beta\n"
    # Resources load in descriptor order: `labels` (one batch), then `values` (many).
    write_release(
        datasets, "big", "1.0.0", {"labels": (LABELS, labels), "values": (SCHEMA, _csv(2_000, 1))}
    )
    write_release(
        datasets,
        "big",
        "1.1.0",
        {"labels": (LABELS, labels + "c,gamma\n"), "values": (SCHEMA, _csv(NEW_ROWS, 2))},
    )


@dataclass
class Reader:
    """Fetches the pinned pages over and over until stopped; keeps every difference it sees."""

    base_url: str
    expected: dict[str, bytes]
    differences: list[tuple[str, int, str]] = field(default_factory=list)
    rounds: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Read until `stop` is set."""
        with httpx.Client(base_url=self.base_url, timeout=60) as http:
            while not self.stop.is_set():
                for path in PINNED:
                    response = http.get(path)
                    if response.status_code != 200 or response.content != self.expected[path]:
                        digest = hashlib.sha256(response.content).hexdigest()[:12]
                        self.differences.append((path, response.status_code, digest))
                self.rounds += 1


def _fetch(base_url: str, paths: tuple[str, ...]) -> dict[str, httpx.Response]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        return {path: http.get(path) for path in paths}


def _tables_match_registry(url: str) -> tuple[set[str], set[str]]:
    """The data tables the database holds, and those the registry names.

    A rollup (`c_...`) counts as its data table's: one left by a killed load would be an orphan.
    """
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            names = set(sa.inspect(connection).get_table_names())
            registered = set(
                connection.execute(sa.select(table_of(Resource).c.table_name)).scalars()
            )
    finally:
        engine.dispose()
    orphans = {
        name
        for name in names
        if name.startswith("c_") and name not in {rollup_table_name(t) for t in registered}
    }
    return {name for name in names if name.startswith("d_")} | orphans, registered


def _load_command(url: str, datasets: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "OPENDATA_LOAD_BATCH_SIZE": str(BATCH), "COLUMNS": "200"}
    return [str(OPENDATA), "load", "--database-url", url, str(datasets)], env


def _progress_lines(count: int) -> list[str]:
    """The first `count` progress lines the load of `big 1.1.0` prints."""
    lines = ["big 1.1.0 labels  3 rows"]
    lines += [f"big 1.1.0 values  {min(n * BATCH, NEW_ROWS):,} rows" for n in range(1, count)]
    return lines[:count]


def _pipe_with_room_for(size: int) -> tuple[int, int]:
    """A pipe already so full that `size` more bytes fill it: (read end, write end)."""
    read_end, write_end = os.pipe()
    capacity = fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_CAPACITY)
    assert capacity == PIPE_CAPACITY and size < capacity
    os.write(write_end, b"\n" * (capacity - size))
    return read_end, write_end


def _bytes_waiting(read_end: int) -> int:
    waiting = array.array("i", [0])
    fcntl.ioctl(read_end, termios.FIONREAD, waiting)
    return waiting[0]


def _kill_after(lines: int, url: str, datasets: Path) -> list[str]:
    """Run the load, SIGKILL it once it is blocked after `lines` progress lines; return them."""
    expected = "".join(f"{line}\n" for line in _progress_lines(lines)).encode()
    read_end, write_end = _pipe_with_room_for(len(expected))
    command, env = _load_command(url, datasets)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=write_end)
    os.close(write_end)
    give_up = time.monotonic() + HANG_LIMIT  # a guard against a hang, never asserted on
    with os.fdopen(read_end, "rb") as output:
        try:
            while _bytes_waiting(read_end) < PIPE_CAPACITY and process.poll() is None:
                assert time.monotonic() < give_up, "the load neither blocked nor ended"
                time.sleep(0.01)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        text = output.read().decode()
    ended = f"the load ended ({process.returncode}) before it was killed: {text.strip()!r}"
    assert process.returncode == -signal.SIGKILL, ended
    return [line for line in text.splitlines() if line]


@pytest.fixture
def published(
    backend: str, make_database: MakeDatabase, tmp_path: Path
) -> Iterator[tuple[str, Path, str]]:
    """(database URL, datasets folder, live server URL): `big 1.0.0` loaded and served."""
    url = make_database(backend)
    datasets = tmp_path / "datasets"
    _releases(datasets)
    engine = writer_engine(url)
    summary = ReleaseLoader(engine, quiet=True).load_all(
        find_releases(datasets, [datasets / "big" / "1.0.0"])
    )
    engine.dispose()
    assert summary.loaded == [("big", "1.0.0", 2_002)]
    with live_server(url, datasets_dir=datasets) as server:
        yield url, datasets, server.url


@pytest.mark.parametrize("lines", KILL_POINTS, ids=[f"after-{n}-lines" for n in KILL_POINTS])
def test_killed_load_leaves_published_release_served_and_reruns(
    published: tuple[str, Path, str], lines: int
) -> None:
    url, datasets, base_url = published
    before = _fetch(base_url, (*PINNED, *NEW, LATEST))
    assert all(before[path].status_code == 200 for path in PINNED)
    assert all(before[path].status_code == 404 for path in NEW)
    reader = Reader(base_url, {path: before[path].content for path in PINNED})
    thread = threading.Thread(target=reader.run, name="pinned-reader", daemon=True)
    thread.start()
    try:
        seen = _kill_after(lines, url, datasets)
        after_kill = _fetch(base_url, (*PINNED, *NEW, LATEST))
        data_tables, registered = _tables_match_registry(url)
        command, env = _load_command(url, datasets)
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        after_rerun = _fetch(base_url, (*PINNED, *NEW, LATEST))
    finally:
        reader.stop.set()
        thread.join(timeout=120)
    assert seen == _progress_lines(lines)
    assert reader.differences == []
    assert reader.rounds > 0
    for path in PINNED:
        assert after_kill[path].content == before[path].content, path
        assert after_rerun[path].content == before[path].content, path
    # Nothing of the killed load: no table of it, no page of it, `latest` is still 1.0.0.
    assert data_tables == registered
    assert {after_kill[path].status_code for path in NEW} == {404}
    assert after_kill[LATEST].headers["x-dataset-version"] == "1.0.0"
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "loaded   big 1.1.0  20,003 rows" in rerun.stdout
    assert "present  big 1.0.0  (already loaded, unchanged)" in rerun.stdout
    assert {after_rerun[path].status_code for path in NEW} == {200}
    assert after_rerun[LATEST].headers["x-dataset-version"] == "1.1.0"
    page = after_rerun["/v1/datasets/big/1.1.0/values"].json()
    assert page["total"] == NEW_ROWS
    assert page["rows"][:2] == [{"id": 0, "value": 0}, {"id": 1, "value": 2}]
