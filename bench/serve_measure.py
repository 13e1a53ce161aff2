"""What `serve.py` measures on a running server: one page under wrk, exports, the varied list."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import VENV_BIN, median, run_measured
from serve_databases import Database
from serve_servers import VARIED_CHECKED, Server, running, wait_idle
from workload import Played, play

WRK = shutil.which("wrk") or "/usr/bin/wrk"
CONNECTIONS, WRK_THREADS, WARM_UP_SECONDS = 32, 2, 3  # (a), on a server of one worker
WRK_TIMEOUT = "30s"  # wrk's default (2 s) would leave the slowest responses out of the latencies
IDENTITY = {"Accept-Encoding": "identity"}  # wrk asks for no compression either
CSV_FLOOR = (
    "import csv, os, sqlite3, sys\n"
    "connection = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)\n"
    "cursor = connection.execute(f'SELECT * FROM \"{sys.argv[2]}\" ORDER BY id')\n"
    "with open(os.devnull, 'w', newline='', encoding='utf-8') as out:\n"
    "    writer = csv.writer(out)\n"
    "    writer.writerow([d[0] for d in cursor.description])\n"
    "    writer.writerows(cursor)\n"
)


@dataclass(frozen=True)
class VariedSetup:
    """How (c) runs: seconds of wrk, its connections, the workers of `opendata serve`."""

    seconds: int
    connections: int
    workers: int


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


def run_wrk(url: str, seconds: int, connections: int = CONNECTIONS) -> Load:
    """`wrk -t2 -c<connections> -d<seconds>s --latency` on one URL; an error fails the run."""
    out = subprocess.run([WRK, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s",
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


@contextmanager
def warmed(server: Server, into: Measured | None, connections: int
           ) -> Iterator[tuple[int, Measured]]:
    """Start the server alone, check its page, warm it up on that page, wait until it is idle.

    Yields the pid and what is measured on it: `into` when given (its page must not have
    changed), else a new record.
    """
    with running(server) as pid:
        measured = check_page(server)
        if into is not None:
            if (into.rows, into.total) != (measured.rows, measured.total):
                raise SystemExit(f"{server.name} changed its page between rounds")
            measured = into
        run_wrk(server.url(server.page), WARM_UP_SECONDS, connections)
        check_page(server)  # queued behind what the warm-up left running on one worker
        if not wait_idle(pid):
            print(f"  {server.name}: still busy 30 s after the warm-up", flush=True)
        yield pid, measured


def measure_repeated(server: Server, duration: int, repeat: int, into: Measured | None
                     ) -> Measured:
    """(a) and (b): load-test the page at `CONNECTIONS`, time each export `repeat` times."""
    if repeat and server.workers != 1:
        raise ValueError("the exports' peak RSS is read from one server process")
    with warmed(server, into, CONNECTIONS) as (pid, measured):
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
    return measured


def measure_varied(server: Server, setup: VariedSetup, into: Measured | None) -> Measured:
    """(c): play the varied list for `setup.seconds` at `setup.connections`, after a warm-up."""
    assert server.varied is not None
    with warmed(server, into, setup.connections) as (_, measured):
        played = play(server.url(""), server.varied, seconds=setup.seconds,
                      connections=setup.connections, threads=WRK_THREADS, timeout=WRK_TIMEOUT,
                      total_key=server.total_key)
        measured.varied.append(played)
        if not measured.varied_answers:  # after the run, which would find these pages cached
            measured.varied_answers = varied_answers(server)
        workers = f" ({server.workers} workers)" if server.workers > 1 else ""
        print(f"  {server.name}{workers} varied: {played.rps:7.1f} req/s, p50"
              f" {played.p50_ms:.1f} ms, p99 {played.p99_ms:.1f} ms, non-2xx/3xx"
              f" {played.failed_text()}, socket errors {played.socket_text()}, exact totals"
              f" {played.exact:,} of {played.answered:,}", flush=True)
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

