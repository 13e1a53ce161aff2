"""The servers `serve.py` compares: `opendata serve` and Datasette, the URLs, their processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
from common import OUT, PACKAGE, RESOURCE, ROOT, VENV_BIN, VERSION
from serve_databases import Database, PostgresDatabase
from workload import varied_pages, write_urls

DATASETTE_VENV = OUT / "venv-datasette"
DATASETTE_REQUIREMENT = "datasette>=0.65,<2"
PROVINCE, DATE_FROM, DATE_TO, PAGE_SIZE = "KH-12", "2025-09-01", "2025-11-30", 100
DATASETTE_SETTINGS = {
    "sql_time_limit_ms": "20000",  # the count must finish, not be skipped
    "max_returned_rows": "1000",
    "allow_csv_stream": "on",
    "max_csv_mb": "0",  # no cap: the full export is the point
    "suggest_facets": "off",  # spares Datasette a facet query per column on every page
}
VARIED_URLS, VARIED_SEED, VARIED_CHECKED = 10_000, 20260312, 20
"""Distinct pages of the varied workload (more than a run asks for), its seed, pages compared."""
STARTED = b"Application startup complete."  # what uvicorn logs once per worker
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Server:
    """One server process and the URLs measured on it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    ready: str
    page: str
    total_key: str
    exports: tuple[tuple[str, str], ...]
    varied: Path | None = None
    workers: int = 1  # processes that answer requests (uvicorn's workers)

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"



def datasette_bin() -> Path:
    """Datasette from its own venv under bench/out, created on first use."""
    binary = DATASETTE_VENV / "bin" / "datasette"
    if not binary.is_file():
        subprocess.run(["python3", "-m", "venv", str(DATASETTE_VENV)], check=True)
        subprocess.run([str(DATASETTE_VENV / "bin" / "pip"), "install", "--quiet",
                        DATASETTE_REQUIREMENT], check=True)
    return binary


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def page_query(*, between: bool) -> str:
    """The query string of the benchmarked page, in either grammar."""
    dates = (f"reported_on__between={DATE_FROM}..{DATE_TO}" if between
             else f"reported_on__gte={DATE_FROM}&reported_on__lte={DATE_TO}")
    return f"province={PROVINCE}&{dates}&_sort=reported_on&_size={PAGE_SIZE}"


@cache
def varied() -> list[tuple[str, str]]:
    """The varied workload: (opendata, Datasette) query strings of `VARIED_URLS` pages."""
    return varied_pages(VARIED_URLS, VARIED_SEED)


def varied_file(name: str, base: str, stem: str, *, datasette: bool) -> Path:
    """The varied workload's URL list for one server on one database (bench/mixed.lua reads it)."""
    entries = [("page", f"{base}.json?{pair[1] if datasette else pair[0]}") for pair in varied()]
    return write_urls(OUT / "varied" / f"{stem}-{name}.urls", entries)


def opendata(database: Database | PostgresDatabase, workers: int = 1) -> Server:
    """`opendata serve --workers N` on the database, SQLite or PostgreSQL."""
    port = free_port()
    base = f"/v1/datasets/{PACKAGE}/{VERSION}/{RESOURCE}"
    return Server(
        name="opendata" if isinstance(database, Database) else "opendata on PostgreSQL",
        argv=[str(VENV_BIN / "opendata"), "serve", "--port", str(port),
              "--workers", str(workers)],
        env={**os.environ, "OPENDATA_DATABASE_URL": database.url},
        port=port,
        ready="/readyz",
        page=f"{base}.json?{page_query(between=True)}",
        total_key="total",
        exports=(("opendata, rendered", f"{base}.csv?_sort=id"),
                 ("opendata, stored file", f"{base}.csv")),
        varied=varied_file("opendata", base, database.stem, datasette=False),
        workers=workers,
    )


def datasette(database: Database) -> Server:
    """Datasette, one process (it has no option for more), the database opened immutable (`-i`)."""
    port = free_port()
    base = f"/{database.path.stem}/{database.table}"
    settings = [arg for key, value in DATASETTE_SETTINGS.items()
                for arg in ("--setting", key, value)]
    return Server(
        name="Datasette",
        argv=[str(datasette_bin()), "serve", "-i", str(database.path), "-h", "127.0.0.1",
              "-p", str(port), *settings],
        env=dict(os.environ),
        port=port,
        ready="/-/versions.json",
        page=f"{base}.json?{page_query(between=False)}",
        total_key="filtered_table_rows_count",
        exports=(("Datasette, `_stream=on`", f"{base}.csv?_stream=on&_size=max"),),
        varied=varied_file("datasette", base, database.stem, datasette=True),
    )


@contextmanager
def running(server: Server) -> Iterator[int]:
    """Start the server, wait until every worker answers, yield its pid; always stop it.

    The server runs in a session of its own, so whatever its parent leaves behind (uvicorn's
    workers) is killed with it.
    """
    log_path = OUT / "logs" / f"{server.name.lower().replace(' ', '-')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(server.argv, env=server.env, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while not _ready(server, log_path):
                if process.poll() is not None:
                    raise SystemExit(f"{server.name} exited: {log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"{server.name} did not get ready; see {log_path}")
                time.sleep(0.2)
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the server's own group, if any is left
            except ProcessLookupError:
                pass


def _ready(server: Server, log_path: Path) -> bool:
    """The ready URL answers and, with several workers, each has logged its start-up."""
    if server.workers > 1 and log_path.read_bytes().count(STARTED) < server.workers:
        return False
    return _answers(server.url(server.ready))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False



def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (from each process's parent in /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue += children.get(current, [])
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the process and its descendants (uvicorn's workers), in seconds."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / CLOCK_TICKS


def wait_idle(pid: int, *, window: float = 0.25, busy: float = 0.1, limit: float = 30) -> bool:
    """Wait until the server's processes use under `busy` of a core for a `window` of seconds.

    What a warm-up left queued is drained by then on every worker, not only on the one a
    request happens to reach. False when the server is still busy after `limit` seconds.
    """
    deadline = time.monotonic() + limit
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - before < busy * window:
            return True
        before = now
    return False
