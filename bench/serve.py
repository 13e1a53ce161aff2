"""Time `opendata serve` against Datasette, and against itself on PostgreSQL, on the same data.

Both servers read the same SQLite file, one at a time. (a) is a filtered JSON page (a province, a
date range, sorted by date, 100 rows, exact total) under `wrk` at 32 connections, each server as
one process; (b) is the full CSV export, timed to the last byte, with the server's peak RSS, next
to two floors without HTTP (Python's csv.writer and `sqlite3 -csv`). (a) runs again on a copy of
the file without the planner statistics the loader leaves (`sqlite_stat1`), to show what bounds
it. (c) is a varied workload in the setup the targets name: 10,000 distinct filtered pages played
by `wrk` through bench/mixed.lua, by default at 64 connections for 60 s against `opendata serve
--workers 2` (Datasette has no worker processes: one process), with every non-2xx answer and the
share of answers with an exact total; it runs on the file as loaded and on a copy with an index
on (category, reported_on), the same file for both servers. (a) and (c) also run against `opendata
serve` on the same release loaded into PostgreSQL, and the SQL of each query shape is recorded
with its plans (bench/serve_plans.py). The results go to the `## Serve` section of
bench/RESULTS.md.

    .venv/bin/python bench/serve.py                 # 1,000,000 rows, 3 rounds (15 s, 60 s of wrk)
    .venv/bin/python bench/serve.py --quick         # 100,000 rows, 1 round of 5 s, nothing written
    .venv/bin/python bench/serve.py --no-postgres   # SQLite and Datasette only
    .venv/bin/python bench/serve.py --profile       # cProfile of the page route, no HTTP server
    .venv/bin/python bench/serve.py --plans-only    # the Plans table alone, no HTTP server

The parts: serve_databases.py (the SQLite files and the PostgreSQL database), serve_servers.py
(the two servers, their URLs and processes), serve_measure.py (wrk, exports, the varied list),
serve_plans.py (EXPLAIN) and serve_report.py (the section of RESULTS.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
import time

import httpx
from common import ROOT, sqlite_url, write_release, write_section
from serve_databases import (
    DEFAULT_POSTGRES,
    DEFAULT_ROWS,
    VARIANTS,
    Database,
    PostgresDatabase,
    datasets_dir,
    indexes,
    loaded_database,
    postgres_database,
    variant,
)
from serve_measure import (
    IDENTITY,
    Measured,
    VariedSetup,
    csv_writer_digest,
    floors,
    measure_repeated,
    measure_varied,
)
from serve_plans import record_plans
from serve_report import Results, body, section
from serve_servers import PAGE_SIZE, datasette, opendata, page_query, varied

RESULTS = ROOT / "bench" / "RESULTS.md"


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


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the release")
    parser.add_argument("--duration", type=int, default=15,
                        help="seconds of each wrk run of the repeated URL (a)")
    parser.add_argument("--varied-duration", type=int, default=60,
                        help="seconds of each wrk run of the varied list (c)")
    parser.add_argument("--varied-connections", type=int, default=64,
                        help="wrk connections of the varied list (c)")
    parser.add_argument("--workers", type=int, default=2,
                        help="`opendata serve --workers` in (c); (a) and (b) run on one")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server (median)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each export (median)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 100,000 rows, one round of 5 s (a) and (c), one"
                        " export, no write")
    parser.add_argument("--no-variants", action="store_true",
                        help="the database as loaded only, not its copies")
    parser.add_argument("--no-postgres", action="store_true",
                        help="leave opendata on PostgreSQL out")
    parser.add_argument("--postgres", metavar="URL",
                        default=os.environ.get("OPENDATA_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                        help="a PostgreSQL URL to create the benchmark's database next to")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md untouched")
    parser.add_argument("--plans-only", action="store_true",
                        help="only explain the queries: print the Plans table, write"
                             " bench/out/serve-plans.md, run no server")
    parser.add_argument("--profile", action="store_true",
                        help="only profile the page route in-process and print the top")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.duration, args.rounds, args.repeat = 100_000, 5, 1, 1
        args.varied_duration, args.no_write = 5, True
    args.varied = VariedSetup(args.varied_duration, args.varied_connections, args.workers)
    return args


def _same_page(name: str, ours: Measured, theirs: Measured) -> None:
    """Stop when two servers return different pages for the (a) URL."""
    if (ours.rows, ours.total) != (theirs.rows, theirs.total) or ours.rows != PAGE_SIZE:
        raise SystemExit(f"the pages differ: opendata {ours.rows} rows of {ours.total},"
                         f" {name} {theirs.rows} rows of {theirs.total}")


Compared = list[tuple[Database, Measured, Measured]]


def run_rounds(args: argparse.Namespace, databases: list[Database],
               postgres: PostgresDatabase | None) -> tuple[Compared, Measured | None]:
    """Every round on every database, the servers alternating; PostgreSQL beside the first.

    Each part starts the servers afresh: (a) and the exports on one process each, then (c) on
    `opendata serve --workers N` and on Datasette again (one process).
    """
    compared: Compared = []
    on_postgres: Measured | None = None
    setup: VariedSetup = args.varied
    for database in databases:
        ours = theirs = None
        for round_ in range(args.rounds):
            first = database is databases[0]
            repeat = args.repeat if first and round_ == 0 else 0
            print(f"{database.label}, round {round_ + 1}/{args.rounds}")
            if database.repeated:
                ours = measure_repeated(opendata(database), args.duration, repeat, ours)
                theirs = measure_repeated(datasette(database), args.duration, repeat, theirs)
                if first and postgres is not None:
                    on_postgres = measure_repeated(opendata(postgres), args.duration, 0,
                                                   on_postgres)
            if database.varied:
                ours = measure_varied(opendata(database, setup.workers), setup, ours)
                theirs = measure_varied(datasette(database), setup, theirs)
                if first and postgres is not None:
                    on_postgres = measure_varied(opendata(postgres, setup.workers), setup,
                                                 on_postgres)
        assert ours is not None and theirs is not None
        _same_page("Datasette", ours, theirs)
        compared.append((database, ours, theirs))
    if on_postgres is not None:
        _same_page("opendata on PostgreSQL", compared[0][1], on_postgres)
    return compared, on_postgres


def main(argv: list[str]) -> None:
    """Load the release, measure the servers and the floors, print and record the results."""
    args = parse_args(argv)
    command = shlex.join(["python", "bench/serve.py", *argv])
    release = write_release(datasets_dir(args.rows), args.rows)
    loaded = loaded_database(release)
    databases = [loaded]
    if not args.no_variants:
        databases += [variant(loaded, n, chosen) for n, chosen in enumerate(VARIANTS, 1)]
    if args.profile:
        for database in databases:
            profile(database, 2000)
        return
    postgres = None if args.no_postgres else postgres_database(args.postgres, release)
    if args.no_postgres:
        print("PostgreSQL left out (--no-postgres)")
    for database in databases:
        print(f"{database.path.name} ({database.label}): indexes {indexes(database)}")
    plans = record_plans(page_query(between=True), [ours for ours, _ in varied()], loaded.url,
                         postgres.url if postgres is not None else None)
    if args.plans_only:
        print("\n".join(plans))
        return
    print("floors")
    floor_runs = floors(loaded, args.repeat)
    compared, on_postgres = run_rounds(args, databases, postgres)
    downloads = compared[0][1].downloads | compared[0][2].downloads
    for label, runs in downloads.items():
        if any(d.lines != release.rows + 1 for d in runs):
            raise SystemExit(f"{label}: {runs[0].lines:,} lines, expected {release.rows + 1:,}")
    digests = {csv_writer_digest(loaded): "csv.writer",
               hashlib.sha256(release.csv.read_bytes()).hexdigest(): "published file"}
    results = Results(compared, (postgres, on_postgres) if postgres and on_postgres else None,
                      floor_runs, downloads, digests)
    lines = body(results, page=(opendata(loaded).page, datasette(loaded).page),
                 indexes=indexes(loaded), rows=release.rows, plans=plans, setup=args.varied)
    generated = section(args, command, lines, postgres)
    print()
    print(generated)
    if not args.no_write:
        write_section(RESULTS, "Serve", generated)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
