"""The `## Serve` section of RESULTS.md: the tables of (a), (b) and (c), the targets."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime

from common import machine, median, section_begin, section_end
from serve_databases import Database, PostgresDatabase
from serve_measure import CONNECTIONS, WARM_UP_SECONDS, WRK_THREADS, Download, Measured
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
    """(database, server, measured, Datasette on that file, opendata on SQLite or None)."""
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
        load, rates = measured.load, [run.rps for run in measured.loads]
        versus = _ratio(load.rps, sqlite.load.rps) if sqlite is not None else ""
        lines.append(f"| {label} | {name} | {load.rps:,.1f} |"
                     f" {min(rates):,.1f} to {max(rates):,.1f} | {load.p50_ms:,.1f} |"
                     f" {load.p99_ms:,.1f} | {_ratio(load.rps, datasette.load.rps)} | {versus} |")
    return lines


def varied_table(results: Results) -> list[str]:
    """The (c) table: the varied workload, with the repeated-URL rate of (a) beside it."""
    lines = ["| database | server | varied req/s | range req/s | p50 ms | p99 ms | non-2xx/3xx |"
             " socket errors | exact total | x Datasette | x opendata on SQLite |"
             " repeated URL req/s (a) |",
             "|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for label, name, measured, datasette, sqlite in _rows(results):
        played, rates = measured.varied_load, [run.rps for run in measured.varied]
        share = f"{played.exact / played.answered:.1%}" if played.answered else "n/a"
        versus = _ratio(played.rps, sqlite.varied_load.rps) if sqlite is not None else ""
        lines.append(f"| {label} | {name} | {played.rps:,.1f} |"
                     f" {min(rates):,.1f} to {max(rates):,.1f} | {played.p50_ms:,.1f} |"
                     f" {played.p99_ms:,.1f} | {played.failed_text()} |"
                     f" {played.socket_text()} | {share} of {played.answered:,} |"
                     f" {_ratio(played.rps, datasette.varied_load.rps)} | {versus} |"
                     f" {measured.load.rps:,.1f} |")
    return lines


def same_varied_answers(results: Results) -> str:
    """Whether both servers gave the same totals and the same rows on the first pages.

    The two break ties of a sort on a non-unique column differently (opendata by the key), so
    such a page is compared by its total and row count, and by its ids as a set when it holds
    every match; pages in key order are compared id for id.
    """
    for _, ours, theirs in results.compared:
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


def _postgres_target(results: Results) -> str:
    """The PostgreSQL target: SQLite's rate over PostgreSQL's, for (a) and (c)."""
    if results.postgres is None:
        return "opendata on PostgreSQL within 1.5x of SQLite: **not measured** (left out)"
    measured, sqlite = results.postgres[1], results.sqlite
    slower = {"(a)": (sqlite.load.rps, measured.load.rps),
              "(c)": (sqlite.varied_load.rps, measured.varied_load.rps)}
    met = all(theirs and ours / theirs <= POSTGRES_WITHIN for ours, theirs in slower.values())
    detail = ", ".join(f"SQLite {_ratio(ours, theirs)}x PostgreSQL in {name}"
                       for name, (ours, theirs) in slower.items())
    return (f"opendata on PostgreSQL within {POSTGRES_WITHIN}x of SQLite:"
            f" **{'met' if met else 'missed'}** ({detail})")


def targets(results: Results) -> str:
    """One line: each target of the issue, met or missed."""
    ratios = [f"{_ratio(ours.load.rps, theirs.load.rps)}x {database.label}"
              for database, ours, theirs in results.compared]
    ours, theirs = results.compared[0][1], results.compared[0][2]
    verdict = "met" if ours.load.rps >= 4 * theirs.load.rps else "missed"
    if not theirs.load.requests:
        verdict = "not measured, Datasette answered nothing within the run"
    rendered = median([d.seconds for d in results.downloads["opendata, rendered"]])
    times = rendered / results.floors["Python csv.writer, no HTTP"]
    peak = max(d.peak_mb for label, runs in results.downloads.items()
               if label.startswith("opendata") for d in runs)
    return (f"Targets: (a) at least 4x Datasette with the total: **{verdict}**"
            f" ({', '.join(ratios)}); (b) the rendered export at most 1.25x csv.writer:"
            f" **{'met' if times <= 1.25 else 'missed'}** ({times:.2f}x); server memory flat"
            f" under 150 MB: **{'met' if peak < 150 else 'missed'}** (peak {peak:.0f} MB);"
            f" {_postgres_target(results)}.")


def body(results: Results, *, page: tuple[str, str], indexes: str, rows: int,
         plans: list[str]) -> list[str]:
    """The text and tables of the section, between the measuring conditions and the end.

    :param page: the (a) URL of opendata and of Datasette.
    :param plans: the lines of the plan table (see `serve_plans`), empty to leave it out.
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
                    " rounds, and `x Datasette` is against Datasette on that file. Same totals"
                    " and ids as opendata on SQLite on the first"
                    f" {VARIED_CHECKED} varied pages: {same_as_sqlite(results)}.")
    return [
        f"**(a) A filtered page** under `wrk -t{WRK_THREADS} -c{CONNECTIONS}`: `province ="
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
        *plans,
        targets(results),
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
        f" {args.repeat}).",
        "",
        f"Machine: {info['cpu']}, nproc {info['nproc']}, {info['memory']} RAM, {info['os']},"
        f" Python {info['python']}, sqlite3 {info['sqlite3']}; Datasette {version}{server}. The"
        f" server, {sharing} the machine; load average (1, 5, 15 min)"
        f" at the end of the run: {info['load']}.",
        "",
        *lines,
        section_end("Serve"),
    ])
