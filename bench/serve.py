"""Time `opendata serve` against Datasette: a filtered page under load, and the full CSV export.

Both servers read the same SQLite file, one at a time, each as one process. (a) is a filtered JSON
page (a province, a date range, sorted by date, 100 rows, exact total) under `wrk` at 32
connections; (b) is the full CSV export, timed to the last byte, with the server's peak RSS, next
to two floors without HTTP (Python's csv.writer and `sqlite3 -csv`). (a) runs again on two copies
of the file, one without the planner statistics the loader leaves (`sqlite_stat1`) and one with an
index on both filtered columns, to show what bounds it. (c) is a varied workload on each file:
10,000 distinct filtered pages played by `wrk` through bench/mixed.lua, with every non-2xx answer
and the share of answers with an exact total. The results go to the `## Serve` section of
bench/RESULTS.md.

    .venv/bin/python bench/serve.py                 # 1,000,000 rows, 3 rounds of 15 s of wrk
    .venv/bin/python bench/serve.py --quick         # 100,000 rows, 1 round of 5 s, nothing written
    .venv/bin/python bench/serve.py --profile       # cProfile of the page route, no HTTP server
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import httpx
from common import (
    OUT,
    PACKAGE,
    RESOURCE,
    ROOT,
    VENV_BIN,
    VERSION,
    SyntheticRelease,
    fresh_sqlite,
    machine,
    median,
    run_measured,
    section_begin,
    section_end,
    sqlite_url,
    write_release,
    write_section,
)
from workload import Played, play, varied_pages, write_urls

RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_ROWS = 1_000_000
DATASETTE_VENV = OUT / "venv-datasette"
DATASETTE_REQUIREMENT = "datasette>=0.65,<2"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
CONNECTIONS, WRK_THREADS, WARM_UP_SECONDS = 32, 2, 3
WRK_TIMEOUT = "30s"  # wrk's default (2 s) would leave the slowest responses out of the latencies
PROVINCE, DATE_FROM, DATE_TO, PAGE_SIZE = "KH-12", "2025-09-01", "2025-11-30", 100
IDENTITY = {"Accept-Encoding": "identity"}  # wrk asks for no compression either
DATASETTE_SETTINGS = {
    "sql_time_limit_ms": "20000",  # the count must finish, not be skipped
    "max_returned_rows": "1000",
    "allow_csv_stream": "on",
    "max_csv_mb": "0",  # no cap: the full export is the point
    "suggest_facets": "off",  # spares Datasette a facet query per column on every page
}
VARIED_URLS, VARIED_SEED, VARIED_CHECKED = 10_000, 20260312, 20
"""Distinct pages of the varied workload (more than a run asks for), its seed, pages compared."""
# label -> SQL run on a copy of the loaded file. The file as loaded already holds the package's
# declared (province, reported_on) index, so both servers read it with the same indexes.
VARIANTS = {
    "without planner statistics": "DROP TABLE IF EXISTS sqlite_stat1",
}
CSV_FLOOR = (
    "import csv, os, sqlite3, sys\n"
    "connection = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)\n"
    "cursor = connection.execute(f'SELECT * FROM \"{sys.argv[2]}\" ORDER BY id')\n"
    "with open(os.devnull, 'w', newline='', encoding='utf-8') as out:\n"
    "    writer = csv.writer(out)\n"
    "    writer.writerow([d[0] for d in cursor.description])\n"
    "    writer.writerows(cursor)\n"
)
EXPORT_NOTES = {
    "opendata, rendered": "`cases.csv?_sort=id`: query, server-side cursor, csv.writer",
    "opendata, stored file": "`cases.csv`: the published file, byte for byte, from its chunks",
    "Datasette, `_stream=on`": "`.csv?_stream=on&_size=max`: pages of 1,000 rows",
}


@dataclass(frozen=True)
class Database:
    """A SQLite file holding the loaded release, and the name of the resource's table."""

    path: Path
    table: str
    label: str


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

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass(frozen=True)
class Load:
    """One `wrk` run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass(frozen=True)
class Download:
    """One full export, timed from the request to the last byte."""

    seconds: float
    size: int
    lines: int
    sha256: str
    rss_before_mb: float
    peak_mb: float


@dataclass
class Measured:
    """What one server did on one database: the page it returned, load tests, exports."""

    rows: int
    total: int
    ids: list[int]
    loads: list[Load] = field(default_factory=list)
    downloads: dict[str, list[Download]] = field(default_factory=dict)
    varied: list[Played] = field(default_factory=list)
    varied_answers: list[tuple[int | None, list[int]]] = field(default_factory=list)

    @property
    def load(self) -> Load:
        """The run with the median request rate (the lower middle one for an even count)."""
        ranked = sorted(self.loads, key=lambda load: load.rps)
        return ranked[(len(ranked) - 1) // 2]

    @property
    def varied_load(self) -> Played:
        """The varied-workload run with the median request rate."""
        ranked = sorted(self.varied, key=lambda played: played.rps)
        return ranked[(len(ranked) - 1) // 2]


# The databases -----------------------------------------------------------------------------------


def datasets_dir(rows: int) -> Path:
    """Where the release of `rows` rows lives (the same place `load.py` writes it)."""
    return OUT / "datasets" if rows == DEFAULT_ROWS else OUT / f"rows-{rows}" / "datasets"


def loaded_database(release: SyntheticRelease) -> Database:
    """The release loaded by `opendata load` into a fresh file under bench/out/db.

    The file is checkpointed and left in rollback-journal mode, so a reader opening it immutable
    (Datasette's `-i`) sees every row without the WAL.
    """
    path = fresh_sqlite(f"serve-{release.rows}")
    run = run_measured([VENV_BIN / "opendata", "load", "--quiet", "--datasets", release.datasets,
                        "--database-url", sqlite_url(str(path))])
    if run.returncode != 0:
        raise SystemExit(f"opendata load failed:\n{run.stdout}\n{run.stderr[-4000:]}")
    print(f"loaded {release.rows:,} rows in {run.seconds:.1f} s into {path}")
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        (table,) = connection.execute(
            "SELECT table_name FROM od_resources WHERE name = ?", (RESOURCE,)).fetchone()
    return Database(path, table, "as loaded")


def variant(database: Database, number: int, label: str) -> Database:
    """A copy of the loaded file with one more statement run on it (`VARIANTS`)."""
    path = fresh_sqlite(f"{database.path.stem}-v{number}")
    shutil.copyfile(database.path, path)
    with sqlite3.connect(path, isolation_level=None) as connection:
        connection.execute(VARIANTS[label].format(table=database.table))
    return Database(path, database.table, label)


def indexes(database: Database) -> str:
    """The table's indexes as `name (columns)` (`PRAGMA index_list`), and its statistics."""
    with sqlite3.connect(f"file:{database.path}?mode=ro", uri=True) as connection:
        found = []
        for _seq, name, *_ in connection.execute(f'PRAGMA index_list("{database.table}")'):
            columns = [row[2] for row in connection.execute(f'PRAGMA index_info("{name}")')]
            found.append(f"`{name}` ({', '.join(columns)})")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        analyzed = "sqlite_stat1" in tables and connection.execute(
            "SELECT count(*) FROM sqlite_stat1 WHERE tbl = ?", (database.table,)).fetchone()[0]
    statistics = "planner statistics (`sqlite_stat1`)" if analyzed else "no planner statistics"
    return f"{', '.join(sorted(found))}; {statistics}"


# The servers -------------------------------------------------------------------------------------


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
def _varied() -> list[tuple[str, str]]:
    return varied_pages(VARIED_URLS, VARIED_SEED)


def varied_file(name: str, base: str, database: Database, *, datasette: bool) -> Path:
    """The varied workload's URL list for one server on one database (bench/mixed.lua reads it)."""
    entries = [("page", f"{base}.json?{pair[1] if datasette else pair[0]}") for pair in _varied()]
    return write_urls(OUT / "varied" / f"{database.path.stem}-{name}.urls", entries)


def opendata(database: Database) -> Server:
    """`opendata serve` (one worker) on the database."""
    port = free_port()
    base = f"/v1/datasets/{PACKAGE}/{VERSION}/{RESOURCE}"
    return Server(
        name="opendata",
        argv=[str(VENV_BIN / "opendata"), "serve", "--port", str(port)],
        env={**os.environ, "OPENDATA_DATABASE_URL": sqlite_url(str(database.path))},
        port=port,
        ready="/readyz",
        page=f"{base}.json?{page_query(between=True)}",
        total_key="total",
        exports=(("opendata, rendered", f"{base}.csv?_sort=id"),
                 ("opendata, stored file", f"{base}.csv")),
        varied=varied_file("opendata", base, database, datasette=False),
    )


def datasette(database: Database) -> Server:
    """Datasette, one process, the database opened immutable (`-i`)."""
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
        varied=varied_file("datasette", base, database, datasette=True),
    )


@contextmanager
def running(server: Server) -> Iterator[int]:
    """Start the server, wait until it answers, yield its pid; always stop it."""
    log_path = OUT / "logs" / f"{server.name.lower()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(server.argv, env=server.env, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not _answers(server.url(server.ready)):
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


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


# Measuring ---------------------------------------------------------------------------------------


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_rss(pid: int) -> Iterator[dict[str, float]]:
    """The process's RSS before the block and its peak during it.

    The kernel's high-water mark (VmHWM) is reset through /proc/<pid>/clear_refs first; VmRSS
    is sampled every 20 ms as well, in case the reset is not allowed.
    """
    result = {"before": _status_mb(pid, "VmRSS"), "peak": 0.0}
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            result["peak"] = max(result["peak"], _status_mb(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        hwm = _status_mb(pid, "VmHWM") if reset else 0.0
        result["peak"] = max(result["peak"], hwm, _status_mb(pid, "VmRSS"))


def check_page(server: Server) -> Measured:
    """Fetch the page once: its rows, its total and the ids on it."""
    total, ids = _answer(server, server.page)
    assert total is not None
    return Measured(rows=len(ids), total=total, ids=ids)


def _answer(server: Server, path: str) -> tuple[int | None, list[int]]:
    """The total (None when left out) and the ids of one JSON page."""
    response = httpx.get(server.url(path), headers=IDENTITY, timeout=120)
    response.raise_for_status()
    body = response.json()
    ids = [row["id"] if isinstance(row, dict) else row[0] for row in body["rows"]]
    total = body.get(server.total_key)
    return (int(total) if total is not None else None), ids


def varied_answers(server: Server) -> list[tuple[int | None, list[int]]]:
    """Totals and ids of the first pages of the varied workload, to compare the two servers."""
    assert server.varied is not None
    lines = server.varied.read_text().splitlines()[:VARIED_CHECKED]
    return [_answer(server, line.split("\t", 1)[1]) for line in lines]


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(url: str, seconds: int) -> Load:
    """`wrk -t2 -c32 -d<seconds>s --latency` on one URL; any error or non-2xx fails the run."""
    out = subprocess.run([WRK, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s",
                          f"--timeout={WRK_TIMEOUT}", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rate, count = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"(\d+) requests in", out)
    latency = {p: float(v) * _UNITS_MS[u] for p, v, u in
               re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)}
    if "Non-2xx" in out or "Socket errors" in out or not (rate and count) or len(latency) < 2:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")
    return Load(float(rate[1]), latency["50"], latency["99"], int(count[1]))


def download(url: str, pid: int) -> Download:
    """Stream one export to nowhere, hashing it, while watching the server's memory."""
    digest, size, lines = hashlib.sha256(), 0, 0
    with peak_rss(pid) as memory, httpx.Client(timeout=None, headers=IDENTITY) as client:
        started = time.perf_counter()
        with client.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(1 << 16):
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    return Download(seconds, size, lines, digest.hexdigest(), memory["before"], memory["peak"])


def measure(server: Server, duration: int, repeat: int, into: Measured | None) -> Measured:
    """Start the server alone, check the page, load-test it, time each export `repeat` times."""
    with running(server) as pid:
        measured = check_page(server)
        if into is not None:
            if (into.rows, into.total) != (measured.rows, measured.total):
                raise SystemExit(f"{server.name} changed its page between rounds")
            measured = into
        run_wrk(server.url(server.page), WARM_UP_SECONDS)
        check_page(server)  # queued behind what the warm-up left running, so the server is idle
        load = run_wrk(server.url(server.page), duration)
        measured.loads.append(load)
        print(f"  {server.name:<9} {measured.rows} rows of {measured.total:,}: {load.rps:7.1f}"
              f" req/s, p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms", flush=True)
        for label, path in server.exports if repeat else ():
            for _ in range(repeat):
                done = download(server.url(path), pid)
                measured.downloads.setdefault(label, []).append(done)
                print(f"  {label}: {done.seconds:.2f} s, {done.size:,} bytes, peak"
                      f" {done.peak_mb:.0f} MB (before {done.rss_before_mb:.0f})", flush=True)
        if server.varied is not None:
            if not measured.varied_answers:
                measured.varied_answers = varied_answers(server)
            played = play(server.url(""), server.varied, seconds=duration,
                          connections=CONNECTIONS, threads=WRK_THREADS, timeout=WRK_TIMEOUT,
                          total_key=server.total_key)
            measured.varied.append(played)
            print(f"  {server.name:<9} varied: {played.rps:7.1f} req/s, p50 {played.p50_ms:.1f}"
                  f" ms, p99 {played.p99_ms:.1f} ms, non-2xx/3xx {played.failed_text()},"
                  f" socket errors {played.socket_text()}, exact totals {played.exact:,} of"
                  f" {played.answered:,}", flush=True)
    return measured


def floors(database: Database, repeat: int) -> dict[str, float]:
    """Median seconds of csv.writer and `sqlite3 -csv` over the same rows, without HTTP."""
    select = f'SELECT * FROM "{database.table}" ORDER BY id'
    commands: dict[str, list[str]] = {
        "Python csv.writer, no HTTP": [str(VENV_BIN / "python"), "-c", CSV_FLOOR,
                                       str(database.path), database.table],
        "`sqlite3 -csv`, no HTTP": ["sh", "-c", 'exec sqlite3 -csv -header "$0" "$1" >/dev/null',
                                    str(database.path), select],
    }
    found = {}
    for name, argv in commands.items():
        runs = [run_measured(argv) for _ in range(repeat)]
        if any(run.returncode for run in runs):
            raise SystemExit(f"{name} failed: {runs[0].stderr[-2000:]}")
        found[name] = median([run.seconds for run in runs])
        print(f"  {name}: {found[name]:.2f} s", flush=True)
    return found


def csv_writer_digest(database: Database) -> str:
    """The sha256 of what csv.writer writes for the rows (what a rendered export should be)."""
    digest = hashlib.sha256()

    class Sink:
        def write(self, text: str) -> None:
            digest.update(text.encode("utf-8"))

    with sqlite3.connect(f"file:{database.path}?mode=ro", uri=True) as connection:
        cursor = connection.execute(f'SELECT * FROM "{database.table}" ORDER BY id')
        writer = csv.writer(Sink())
        writer.writerow([d[0] for d in cursor.description])
        writer.writerows(cursor)
    return digest.hexdigest()


# Reporting ---------------------------------------------------------------------------------------


def _ratio(ours: float, theirs: float) -> str:
    """Ours over theirs, or "inf" when theirs answered nothing."""
    return f"{ours / theirs:.2f}" if theirs else "inf"


def load_table(results: list[tuple[Database, Measured, Measured]]) -> list[str]:
    """The (a) table: one row per database and server."""
    lines = ["| database | server | req/s | range req/s | p50 ms | p99 ms | x Datasette |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for database, ours, theirs in results:
        for name, measured in (("opendata", ours), ("Datasette", theirs)):
            load, rates = measured.load, [run.rps for run in measured.loads]
            lines.append(f"| {database.label} | {name} | {load.rps:,.1f} |"
                         f" {min(rates):,.1f} to {max(rates):,.1f} | {load.p50_ms:,.1f} |"
                         f" {load.p99_ms:,.1f} | {_ratio(load.rps, theirs.load.rps)} |")
    return lines


def varied_table(results: list[tuple[Database, Measured, Measured]]) -> list[str]:
    """The (c) table: the varied workload, with the repeated-URL rate of (a) beside it."""
    lines = ["| database | server | varied req/s | range req/s | p50 ms | p99 ms | non-2xx/3xx |"
             " socket errors | exact total | x Datasette | repeated URL req/s (a) |",
             "|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|"]
    for database, ours, theirs in results:
        for name, measured in (("opendata", ours), ("Datasette", theirs)):
            played, rates = measured.varied_load, [run.rps for run in measured.varied]
            share = f"{played.exact / played.answered:.1%}" if played.answered else "n/a"
            lines.append(f"| {database.label} | {name} | {played.rps:,.1f} |"
                         f" {min(rates):,.1f} to {max(rates):,.1f} | {played.p50_ms:,.1f} |"
                         f" {played.p99_ms:,.1f} | {played.failed_text()} |"
                         f" {played.socket_text()} | {share} of {played.answered:,} |"
                         f" {_ratio(played.rps, theirs.varied_load.rps)} |"
                         f" {measured.load.rps:,.1f} |")
    return lines


def same_varied_answers(results: list[tuple[Database, Measured, Measured]]) -> str:
    """Whether both servers gave the same totals and the same rows on the first pages.

    The two break ties of a sort on a non-unique column differently (opendata by the key), so
    such a page is compared by its total and row count, and by its ids as a set when it holds
    every match; pages in key order are compared id for id.
    """
    for _, ours, theirs in results:
        for (query, _), mine, other in zip(_varied(), ours.varied_answers, theirs.varied_answers,
                                           strict=False):
            keyed = "_sort=" not in query or "_sort=-id" in query
            if keyed:
                same = mine == other
            else:
                whole = mine[0] == len(mine[1])
                same = mine[0] == other[0] and len(mine[1]) == len(other[1]) and (
                    not whole or set(mine[1]) == set(other[1]))
            if not same:
                return f"**no** (first difference: `{query}`)"
    return "yes"


def export_table(floor_runs: dict[str, float], downloads: dict[str, list[Download]],
                 digests: dict[str, str]) -> list[str]:
    """The (b) table: the floors, then each export over HTTP."""
    base = floor_runs["Python csv.writer, no HTTP"]
    lines = ["| export | what it does | median s | x csv.writer | server peak RSS MB"
             " | RSS before MB | MB sent | same bytes as |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, seconds in floor_runs.items():
        lines.append(f"| {name} | floor | {seconds:.2f} | {seconds / base:.2f} | | | | |")
    for label, runs in downloads.items():
        seconds = median([d.seconds for d in runs])
        same = digests.get(runs[0].sha256, "neither")
        lines.append(f"| {label} | {EXPORT_NOTES[label]} | {seconds:.2f} | {seconds / base:.2f} |"
                     f" {max(d.peak_mb for d in runs):.0f} |"
                     f" {max(d.rss_before_mb for d in runs):.0f} | {runs[0].size / 1e6:.1f} |"
                     f" {same} |")
    return lines


def targets(results: list[tuple[Database, Measured, Measured]], floor_runs: dict[str, float],
            downloads: dict[str, list[Download]]) -> str:
    """One line: each target of the issue, met or missed."""
    ratios = [f"{_ratio(ours.load.rps, theirs.load.rps)}x {database.label}"
              for database, ours, theirs in results]
    met = results[0][1].load.rps >= 4 * results[0][2].load.rps
    verdict = "met" if met else "missed"
    if not results[0][2].load.requests:
        verdict = "not measured, Datasette answered nothing within the run"
    rendered = median([d.seconds for d in downloads["opendata, rendered"]])
    times = rendered / floor_runs["Python csv.writer, no HTTP"]
    peak = max(d.peak_mb for label, runs in downloads.items() if label.startswith("opendata")
               for d in runs)
    return (f"Targets: (a) at least 4x Datasette with the total: **{verdict}**"
            f" ({', '.join(ratios)}); (b) the rendered export at most 1.25x csv.writer:"
            f" **{'met' if times <= 1.25 else 'missed'}** ({times:.2f}x); server memory flat"
            f" under 150 MB: **{'met' if peak < 150 else 'missed'}** (peak {peak:.0f} MB).")


def section(args: argparse.Namespace, command: str, body: list[str]) -> str:
    """The generated part of the `## Serve` section."""
    info = machine()
    version = subprocess.run([str(datasette_bin()), "--version"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    return "\n".join([
        section_begin("Serve"),
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit `{info['code']}`"
        f" with `{command}` ({args.rows:,} rows;"
        f" (a): median of {args.rounds} round(s) of {args.duration} s of wrk per server and"
        f" database, after {WARM_UP_SECONDS} s of warm-up, servers alternating; (b): median of"
        f" {args.repeat}).",
        "",
        f"Machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']} RAM, {info['os']},"
        f" Python {info['python']}, sqlite3 {info['sqlite3']}; Datasette {version}. The server,"
        " wrk and the client share the machine; load average (1, 5, 15 min) at the end of the"
        f" run: {info['load']}.",
        "",
        *body,
        section_end("Serve"),
    ])


def profile(database: Database, requests: int) -> None:
    """cProfile of the page route under httpx's ASGI transport: no sockets, no server."""
    import asyncio
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from api.config import Settings
    from api.main import create_app

    app = create_app(Settings(database_url=sqlite_url(str(database.path))))
    page = opendata(database).page

    async def run() -> cProfile.Profile:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                     headers=IDENTITY) as client:
            for _ in range(50):
                (await client.get(page)).raise_for_status()
            started = time.perf_counter()
            for _ in range(requests // 4):
                await client.get(page)
            plain = (time.perf_counter() - started) / (requests // 4)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                await client.get(page)
            profiler.disable()
            print(f"{database.label}: {plain * 1000:.2f} ms a request without the profiler"
                  f" (client included), {requests} requests profiled")
            return profiler

    stats = pstats.Stats(asyncio.run(run()))
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_callees(r"read_rows|_json_page|\(page\)|parse_row_query")


# Main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the release")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server (median)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each export (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 100,000 rows, one round of 5 s, one export, no write")
    parser.add_argument("--no-variants", action="store_true",
                        help="(a) on the database as loaded only, not on the two copies")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md untouched")
    parser.add_argument("--profile", action="store_true",
                        help="only profile the page route in-process and print the top")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.duration, args.rounds, args.repeat = 100_000, 5, 1, 1
        args.no_write = True
    return args


def main(argv: list[str]) -> None:
    """Load the release, measure both servers and the floors, print and record the results."""
    args = parse_args(argv)
    command = shlex.join(["python", "bench/serve.py", *argv])
    release = write_release(datasets_dir(args.rows), args.rows)
    loaded = loaded_database(release)
    databases = [loaded]
    if not args.no_variants:
        databases += [variant(loaded, n, label) for n, label in enumerate(VARIANTS, 1)]
    if args.profile:
        for database in databases:
            profile(database, 2000)
        return
    for database in databases:
        print(f"{database.path.name} ({database.label}): indexes {indexes(database)}")
    print("floors")
    floor_runs = floors(loaded, args.repeat)
    results: list[tuple[Database, Measured, Measured]] = []
    for database in databases:
        ours = theirs = None
        for round_ in range(args.rounds):
            repeat = args.repeat if database is loaded and round_ == 0 else 0
            print(f"{database.label}, round {round_ + 1}/{args.rounds}")
            ours = measure(opendata(database), args.duration, repeat, ours)
            theirs = measure(datasette(database), args.duration, repeat, theirs)
        assert ours is not None and theirs is not None
        if (ours.rows, ours.total) != (theirs.rows, theirs.total) or ours.rows != PAGE_SIZE:
            raise SystemExit(f"the pages differ: opendata {ours.rows} rows of {ours.total},"
                             f" Datasette {theirs.rows} rows of {theirs.total}")
        results.append((database, ours, theirs))
    downloads = results[0][1].downloads | results[0][2].downloads
    for label, runs in downloads.items():
        if any(d.lines != release.rows + 1 for d in runs):
            raise SystemExit(f"{label}: {runs[0].lines:,} lines, expected {release.rows + 1:,}")
    digests = {csv_writer_digest(loaded): "csv.writer",
               hashlib.sha256(release.csv.read_bytes()).hexdigest(): "published file"}
    ours, theirs = results[0][1], results[0][2]
    body = [
        f"**(a) A filtered page** under `wrk -t{WRK_THREADS} -c{CONNECTIONS}`: `province ="
        f" {PROVINCE}`, `reported_on` from {DATE_FROM} to {DATE_TO}, sorted by date,"
        f" {PAGE_SIZE} rows and the exact total ({ours.total:,}); both servers return"
        f" {ours.rows} rows and that total (same ids: {'yes' if ours.ids == theirs.ids else 'no'})."
        f" opendata: `{opendata(loaded).page}`; Datasette: `{datasette(loaded).page}`."
        f" Indexes of the table as loaded: {indexes(loaded)}.",
        "",
        *load_table(results),
        "",
        f"**(b) The full CSV export** of the {release.rows:,} rows, streamed to nowhere by an"
        " httpx client (time to the last byte), with the server's peak RSS during the export"
        " (VmHWM, reset before each export).",
        "",
        *export_table(floor_runs, downloads, digests),
        "",
        f"**(c) A varied workload**: {VARIED_URLS:,} distinct filtered pages (seed {VARIED_SEED},"
        " bench/workload.py `varied_pages`): equality on `province`, `category` or both (both"
        " indexed), in 85% a `reported_on` window of 1 to 90 days, sorted by date, by `people`,"
        " by `-id` or by the key, `_size` from 100 to 1000, a facet on 15%. wrk plays the list"
        f" through bench/mixed.lua (`-t{WRK_THREADS} -c{CONNECTIONS}`, each thread from its own"
        " offset, so no page repeats within a run), after the repeated-URL run and the exports,"
        " on the same server process. `exact total` is the share of 200 answers whose body"
        " carries a number for `total` (Datasette: `filtered_table_rows_count`). Both servers"
        f" give the same totals and rows on the first {VARIED_CHECKED} pages (id for id in key"
        " order; a sort on a non-unique column breaks ties differently in the two, so those"
        " pages are compared by total, row count and, when they hold every match, ids):"
        f" {same_varied_answers(results)}. The last column repeats the single repeated URL of"
        " (a) for comparison.",
        "",
        *varied_table(results),
        "",
        targets(results, floor_runs, downloads),
    ]
    generated = section(args, command, body)
    print()
    print(generated)
    if not args.no_write:
        write_section(RESULTS, "Serve", generated)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
