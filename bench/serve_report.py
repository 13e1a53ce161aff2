"""The `## Serve` section of RESULTS.md: the tables of (a), (b) and (c), the targets."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime

from common import machine, median, section_begin, section_end
from serve_databases import VARIANTS, Database, PostgresDatabase
from serve_measure import (
    CONNECTIONS,
    WARM_UP_SECONDS,
    WRK_THREADS,
    Download,
    Measured,
    VariedSetup,
)
from serve_servers import (
    DATE_FROM,
    DATE_TO,
    PAGE_SIZE,
    PROVINCE,
    VARIED_CHECKED,
    VARIED_SEED,
    VARIED_URLS,
    datasette_bin,
    varied,
)

EXPORT_NOTES = {
    "opendata, rendered": "`cases.csv?_sort=id`: query, server-side cursor, csv.writer",
    "opendata, stored file": "`cases.csv`: the published file, byte for byte, from its chunks",
    "Datasette, `_stream=on`": "`.csv?_stream=on&_size=max`: pages of 1,000 rows",
}
POSTGRES_WITHIN = 1.5  # the target: opendata on PostgreSQL within 1.5x of opendata on SQLite
TIMES_DATASETTE = 4  # the target: at least 4x Datasette's rate, on the same file
VARIED_P99_MS = 250  # the target of (c): p99 under 250 ms
TARGET_ROWS, TARGET_SETUP = 1_000_000, VariedSetup(seconds=60, connections=64, workers=2)
"""The setup the targets of (c) are set for."""


@dataclass(frozen=True)
class Results:
    """Everything measured: both servers on each SQLite file, opendata on PostgreSQL."""

    compared: list[tuple[Database, Measured, Measured]]  # (database, opendata, Datasette)
    postgres: tuple[PostgresDatabase, Measured] | None
    floors: dict[str, float]
    downloads: dict[str, list[Download]]
    digests: dict[str, str]  # sha256 -> what else writes those bytes (csv.writer, the file)

    @property
    def sqlite(self) -> Measured:
        """opendata on the SQLite file as loaded, which PostgreSQL is compared with."""
        return self.compared[0][1]


def _ratio(ours: float, theirs: float) -> str:
    """Ours over theirs, or "inf" when theirs answered nothing."""
    return f"{ours / theirs:.2f}" if theirs else "inf"


def _rows(results: Results) -> list[tuple[str, str, Measured, Measured, Measured | None]]:
    """(database, server, measured, Datasette on that file, opendata on SQLite or None).

    Every database measured; a table keeps those that ran its part.
    """
    found: list[tuple[str, str, Measured, Measured, Measured | None]] = []
    for database, ours, theirs in results.compared:
        first = database is results.compared[0][0]
        found.append((database.label, "opendata", ours, theirs, ours if first else None))
        found.append((database.label, "Datasette", theirs, theirs, None))
    if results.postgres is not None:
        database, measured = results.postgres
        found.append((f"{database.label} (`{database.name}`)", "opendata", measured,
                      results.compared[0][2], results.sqlite))
    return found


def load_table(results: Results) -> list[str]:
    """The (a) table: one row per database and server, PostgreSQL last."""
    lines = ["| database | server | req/s | range req/s | p50 ms | p99 ms | x Datasette |"
             " x opendata on SQLite |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, name, measured, datasette, sqlite in _rows(results):
        if not measured.loads:
            continue
        load, rates = measured.load, [run.rps for run in measured.loads]
        versus = _ratio(load.rps, sqlite.load.rps) if sqlite is not None else ""
        lines.append(f"| {label} | {name} | {load.rps:,.1f} |"
                     f" {min(rates):,.1f} to {max(rates):,.1f} | {load.p50_ms:,.1f} |"
                     f" {load.p99_ms:,.1f} | {_ratio(load.rps, datasette.load.rps)} | {versus} |")
    return lines


def varied_table(results: Results, setup: VariedSetup) -> list[str]:
    """The (c) table: the varied workload, with the repeated-URL rate of (a) beside it."""
    lines = ["| database | server | processes | varied req/s | range req/s | p50 ms | p99 ms |"
             " non-2xx/3xx | socket errors | exact total | x Datasette | x opendata on SQLite |"
             " repeated URL req/s (a) |",
             "|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for label, name, measured, datasette, sqlite in _rows(results):
        if not measured.varied:
            continue
        played, rates = measured.varied_load, [run.rps for run in measured.varied]
        processes = f"{setup.workers} workers" if name == "opendata" else "1"
        repeated = f"{measured.load.rps:,.1f}" if measured.loads else "not run"
        share = f"{played.exact / played.answered:.1%}" if played.answered else "n/a"
        versus = _ratio(played.rps, sqlite.varied_load.rps) if sqlite is not None else ""
        lines.append(f"| {label} | {name} | {processes} | {played.rps:,.1f} |"
                     f" {min(rates):,.1f} to {max(rates):,.1f} | {played.p50_ms:,.1f} |"
                     f" {played.p99_ms:,.1f} | {played.failed_text()} |"
                     f" {played.socket_text()} | {share} of {played.answered:,} |"
                     f" {_ratio(played.rps, datasette.varied_load.rps)} | {versus} |"
                     f" {repeated} |")
    return lines


def same_varied_answers(results: Results) -> str:
    """Whether both servers gave the same totals and the same rows on the first pages.

    The two break ties of a sort on a non-unique column differently (opendata by the key), so
    such a page is compared by its total and row count, and by its ids as a set when it holds
    every match; pages in key order are compared id for id.
    """
    for _, ours, theirs in results.compared:
        if not ours.varied_answers:
            continue
        for (query, _), mine, other in zip(varied(), ours.varied_answers, theirs.varied_answers,
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


def same_as_sqlite(results: Results) -> str:
    """Whether opendata on PostgreSQL gave the totals and ids it gives on SQLite, page for page."""
    assert results.postgres is not None
    postgres = results.postgres[1]
    for (query, _), mine, other in zip(varied(), results.sqlite.varied_answers,
                                       postgres.varied_answers, strict=False):
        if mine != other:
            return f"**no** (first difference: `{query}`)"
    return "yes"


def export_table(results: Results) -> list[str]:
    """The (b) table: the floors, then each export over HTTP."""
    floor_runs, downloads, digests = results.floors, results.downloads, results.digests
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


def _met(met: bool) -> str:
    return f"**{'met' if met else 'missed'}**"


def _times_datasette(ours: float, theirs: float, requests: int) -> str:
    """The verdict on at least 4x Datasette's rate."""
    if not requests:
        return "**not measured** (Datasette answered nothing within the run)"
    return _met(ours >= TIMES_DATASETTE * theirs)


def _postgres_target(results: Results, part: str) -> str:
    """The PostgreSQL target on part (a) or (c): SQLite's rate over PostgreSQL's."""
    target = f"opendata on PostgreSQL within {POSTGRES_WITHIN}x of SQLite"
    if results.postgres is None:
        return f"{target}: **not measured** (left out)"
    mine, theirs = results.sqlite, results.postgres[1]
    sqlite, postgres = ((mine.load.rps, theirs.load.rps) if part == "(a)"
                        else (mine.varied_load.rps, theirs.varied_load.rps))
    met = bool(postgres) and sqlite / postgres <= POSTGRES_WITHIN
    return f"{target}: {_met(met)} (SQLite {_ratio(sqlite, postgres)}x PostgreSQL in {part})"


def targets(results: Results) -> str:
    """One line: each target of (a) and (b), met or missed."""
    ratios = [f"{_ratio(ours.load.rps, theirs.load.rps)}x {database.label}"
              for database, ours, theirs in results.compared if ours.loads]
    ours, theirs = results.compared[0][1], results.compared[0][2]
    verdict = _times_datasette(ours.load.rps, theirs.load.rps, theirs.load.requests)
    rendered = median([d.seconds for d in results.downloads["opendata, rendered"]])
    times = rendered / results.floors["Python csv.writer, no HTTP"]
    peak = max(d.peak_mb for label, runs in results.downloads.items()
               if label.startswith("opendata") for d in runs)
    return (f"Targets of (a) and (b): (a) at least {TIMES_DATASETTE}x Datasette with the total:"
            f" {verdict} ({', '.join(ratios)}); (b) the rendered export at most 1.25x"
            f" csv.writer: {_met(times <= 1.25)} ({times:.2f}x); server memory flat under"
            f" 150 MB: {_met(peak < 150)} (peak {peak:.0f} MB);"
            f" {_postgres_target(results, '(a)')}.")


def _setup_text(rows: int, setup: VariedSetup) -> str:
    return (f"{rows:,} rows, `--workers {setup.workers}`, {setup.connections} connections,"
            f" {setup.seconds} s")


def varied_targets(results: Results, setup: VariedSetup, rows: int) -> str:
    """One line: each target of (c) (the issue's), met or missed, and the setup it ran in."""
    varied = [(database, ours, theirs) for database, ours, theirs in results.compared
              if ours.varied]
    ours_all = [(database.label, ours) for database, ours, _ in varied]
    if results.postgres is not None:
        ours_all.append((results.postgres[0].label, results.postgres[1]))
    versus = []
    for database, ours, theirs in varied:
        mine, other = ours.varied_load, theirs.varied_load
        versus.append(f"{database.label}: {_times_datasette(mine.rps, other.rps, other.requests)}"
                      f" ({_ratio(mine.rps, other.rps)}x)")
    ran = {database.label for database, _, _ in varied}
    versus += [f"{variant.label}: **not measured** (`--no-variants`)" for variant in VARIANTS
               if variant.varied and variant.label not in ran]
    p99 = [(label, ours.varied_load.p99_ms) for label, ours in ours_all]
    runs = [played for _, ours in ours_all for played in ours.varied]
    failed = sum(sum(played.failed.values()) for played in runs)
    sockets = sum(played.socket_errors for played in runs)
    target = _setup_text(TARGET_ROWS, TARGET_SETUP)
    differs = "" if (rows, setup) == (TARGET_ROWS, TARGET_SETUP) else (
        f"; **this run is not in that setup**: {_setup_text(rows, setup)}")
    return (f"Targets of (c), set for {target} (opendata's rows; p99 of the median run):"
            f" zero errors: {_met(not failed and not sockets)} ({failed:,} non-2xx/3xx answers"
            f" and {sockets:,} socket errors in {len(runs)} run(s)); at least {TIMES_DATASETTE}x"
            f" Datasette on the same file with the same indexes: {'; '.join(versus)}; p99 under"
            f" {VARIED_P99_MS} ms: {_met(all(ms < VARIED_P99_MS for _, ms in p99))}"
            f" ({', '.join(f'{ms:,.0f} ms {label}' for label, ms in p99)});"
            f" {_postgres_target(results, '(c)')}{differs}.")


def _labels(results: Results, part: str) -> str:
    """The SQLite files a part ran on, each copy with the SQL that made it from the loaded one."""
    made = {variant.label: variant.sql for variant in VARIANTS}
    found = []
    for database, ours, _ in results.compared:
        if ours.loads if part == "a" else ours.varied:
            sql = made.get(database.label)
            how = "" if sql is None else (
                f" (a copy of the file as loaded with `{sql.format(table='T')}`)")
            found.append(f"*{database.label}*{how}")
    return ", ".join(found)


def body(results: Results, *, page: tuple[str, str], indexes: str, rows: int,
         plans: list[str], setup: VariedSetup) -> list[str]:
    """The text and tables of the section, between the measuring conditions and the end.

    :param page: the (a) URL of opendata and of Datasette.
    :param plans: the lines of the plan table (see `serve_plans`), empty to leave it out.
    :param setup: how (c) ran.
    """
    ours, theirs = results.compared[0][1], results.compared[0][2]
    if results.postgres is None:
        postgres = "opendata on PostgreSQL was left out of this run."
    else:
        postgres = (f"The PostgreSQL rows are `opendata serve` on the same release loaded into"
                    f" the database `{results.postgres[0].name}` on the same machine (its page"
                    f" of (a) too: {results.postgres[1].rows} rows of"
                    f" {results.postgres[1].total:,}); `x opendata on SQLite` is its rate over"
                    " that of opendata on the SQLite file as loaded, measured in the same"
                    " rounds, with the same processes as opendata on SQLite in each part, and"
                    " `x Datasette` is against Datasette on that file. Same totals"
                    " and ids as opendata on SQLite on the first"
                    f" {VARIED_CHECKED} varied pages: {same_as_sqlite(results)}.")
    return [
        f"**(a) A filtered page** under `wrk -t{WRK_THREADS} -c{CONNECTIONS}`, each server as"
        " one process (`opendata serve --workers 1`, Datasette), on the SQLite files"
        f" {_labels(results, 'a')}: `province ="
        f" {PROVINCE}`, `reported_on` from {DATE_FROM} to {DATE_TO}, sorted by date,"
        f" {PAGE_SIZE} rows and the exact total ({ours.total:,}); both servers return"
        f" {ours.rows} rows and that total (same ids: {'yes' if ours.ids == theirs.ids else 'no'})."
        f" opendata: `{page[0]}`; Datasette: `{page[1]}`."
        f" Indexes of the table as loaded: {indexes}. {postgres}",
        "",
        *load_table(results),
        "",
        f"**(b) The full CSV export** of the {rows:,} rows, streamed to nowhere by an"
        " httpx client (time to the last byte), with the server's peak RSS during the export"
        " (VmHWM, reset before each export).",
        "",
        *export_table(results),
        "",
        f"**(c) A varied workload**: {VARIED_URLS:,} distinct filtered pages (seed {VARIED_SEED},"
        " bench/workload.py `varied_pages`): equality on `province`, `category` or both (both"
        " indexed), in 85% a `reported_on` window of 1 to 90 days, sorted by date, by `people`,"
        " by `-id` or by the key, `_size` from 100 to 1000, a facet on 15%. wrk plays the list"
        f" through bench/mixed.lua (`-t{WRK_THREADS} -c{setup.connections}`, {setup.seconds} s a"
        " run, each thread from its own offset, so no page repeats within a run) against"
        f" `opendata serve --workers {setup.workers}` and Datasette as one process (it has no"
        " option for worker processes; its SQL runs on its default 3 threads), each started"
        f" afresh for (c) and warmed up by {WARM_UP_SECONDS} s of the repeated URL of (a) at the"
        " same connections, then left until its processes are idle. It runs on the SQLite files"
        f" {_labels(results, 'c')}, each read by both servers, so both have the same indexes."
        " `exact total` is the share of 200 answers whose body"
        " carries a number for `total` (Datasette: `filtered_table_rows_count`). Both servers"
        f" give the same totals and rows on the first {VARIED_CHECKED} pages (id for id in key"
        " order; a sort on a non-unique column breaks ties differently in the two, so those"
        " pages are compared by total, row count and, when they hold every match, ids):"
        f" {same_varied_answers(results)}. The last column repeats the single repeated URL of"
        f" (a) for comparison (one process, {CONNECTIONS} connections).",
        "",
        *varied_table(results, setup),
        "",
        *plans,
        targets(results),
        "",
        varied_targets(results, setup, rows),
    ]


def section(args: argparse.Namespace, command: str, lines: list[str],
            postgres: PostgresDatabase | None) -> str:
    """The generated part of the `## Serve` section."""
    info = machine()
    version = subprocess.run([str(datasette_bin()), "--version"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    server, sharing = "", "wrk and the client share"
    if postgres is not None:
        server, sharing = f", PostgreSQL {postgres.version}", "wrk, the client and PostgreSQL share"
    return "\n".join([
        section_begin("Serve"),
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit `{info['code']}`"
        f" with `{command}` ({args.rows:,} rows;"
        f" (a): median of {args.rounds} round(s) of {args.duration} s of wrk per server and"
        f" database, after {WARM_UP_SECONDS} s of warm-up, servers alternating; (b): median of"
        f" {args.repeat}; (c): median of {args.rounds} round(s) of {args.varied.seconds} s at"
        f" {args.varied.connections} connections, opendata with {args.varied.workers} workers).",
        "",
        f"Machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']} RAM, {info['os']},"
        f" Python {info['python']}, sqlite3 {info['sqlite3']}; Datasette {version}{server}. The"
        f" server, {sharing} the machine; load average (1, 5, 15 min)"
        f" at the end of the run: {info['load']}.",
        "",
        *lines,
        section_end("Serve"),
    ])
